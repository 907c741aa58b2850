"""The bundled sample speaker: a deterministic video of a "person speaking", made from one photo and espeak-ng.

Speech: sentences from a fixed list, spoken by espeak-ng with per-sentence speed and pitch, separated by pauses,
cut or padded to exactly ``seconds``.  Picture: the photo (resources/messi5.jpg, 548x342) seen through a virtual
camera that pans, zooms and rolls a few degrees, letterboxed (never stretched: stretching breaks MediaPipe) into
1280x720 at 25 fps.  The camera moves like a hand-held camera on a speaker who gestures while talking: its wobble
is scaled by the smoothed loudness of the speech, so motion energy follows loudness and stops in the pauses, and
it zooms in slowly while a sentence is spoken.  The camera window never leaves the photo, always shows both
hands, and moves slowly enough that MediaPipe Holistic finds body, face and both hands on every frame (3 x 44 s
checked at 15 fps): a single frame without them would drop every 64-frame clip that contains it.

Deterministic: the same (seed, index) gives the same bytes with the same ffmpeg build (x264 and the AAC encoder
are deterministic); another ffmpeg version may encode differently.
"""

import itertools
import logging
import re
import subprocess
import tempfile
import time
from math import gcd
from pathlib import Path

import cv2
import numpy as np
import soundfile
from scipy.ndimage import gaussian_filter1d
from scipy.signal import resample_poly
from tqdm import tqdm

from sdt.errors import InputError
from sdt.io import atomic_path
from sdt.media import ffmpeg_exe, speak, stderr_tail

log = logging.getLogger(__name__)

FPS = 25
SIZE = (1280, 720)  # output width, height
AUDIO_RATE = 44100  # a camera-like rate, so the later 16 kHz resampling has real work
SENTENCES = (
    "Good evening, and thank you all for coming out tonight.",
    "I want to talk about something that matters to every one of us.",
    "Last year we tried three different approaches, and only one of them worked.",
    "The numbers are clear, but the story behind them is more interesting.",
    "Let me show you what happened when we changed just one small thing.",
    "Nobody expected the results to be this good, least of all me.",
    "So here is the question: what would you do in my position?",
    "Think about it for a moment before you answer.",
    "On the one hand, we could wait and see what the others decide.",
    "On the other hand, waiting has never won anybody a game.",
    "I remember the first time I stood on a stage like this one.",
    "My hands were shaking, and I forgot half of what I wanted to say.",
    "Today I am going to try to remember all of it.",
    "There are three things I would like you to take home with you.",
    "First, practice beats talent when talent does not practice.",
    "Second, the people around you make you better every single day.",
    "And third, never stop asking why things are the way they are.",
    "Some of you will disagree with me, and that is perfectly fine.",
    "We learn the most from the people who see the world differently.",
    "Thank you very much, and enjoy the rest of the evening.",
)
MAX_ROLL_DEG = 3.0  # camera roll at full loudness
# window = photo / zoom; zooms in by up to 5 % while a sentence is spoken.  3 degrees of roll need zoom >= 1.09 on
# a 548x342 photo (a rolled corner would leave it); KEEP_X below needs zoom <= 1.15.
ZOOM_BASE, ZOOM_SPEECH = 1.09, 0.05
PAN_FRACTION = 0.8  # of the free room that the window has to pan
# Horizontal span of the photo (fractions of its width) that stays in view.  messi5.jpg's hands lie at 13-19 %
# and 63-69 % of its width; MediaPipe loses a hand cut by the picture's edge, or one right next to it.
KEEP_X = (0.08, 0.75)


def video_index(name):
    """The number at the end of a video wildcard: 'sample03' -> 3 (0 when there is none)."""
    match = re.search(r"(\d+)$", str(name))
    return int(match.group(1)) if match else 0


def synthesize_speech(seconds, rng, rate=AUDIO_RATE, espeak="espeak-ng"):
    """Sentences with pauses, filling exactly ``round(seconds * rate)`` samples (float32 mono)."""
    n_total = int(round(seconds * rate))
    parts, n = [np.zeros(int(rng.uniform(0.2, 0.6) * rate), np.float32)], 0
    order = itertools.cycle(rng.permutation(len(SENTENCES)))
    while n < n_total:
        text = SENTENCES[next(order)]
        samples, espeak_rate = speak(text, int(rng.integers(145, 181)), int(rng.integers(35, 66)), espeak)
        g = gcd(rate, espeak_rate)
        samples = resample_poly(samples, rate // g, espeak_rate // g).astype(np.float32)
        parts += [samples, np.zeros(int(rng.uniform(0.4, 1.2) * rate), np.float32)]
        n = sum(len(p) for p in parts)
    audio = np.concatenate(parts)[:n_total]
    return np.clip(audio, -1.0, 1.0)


def loudness_envelope(audio, rate, n_frames, fps=FPS, sigma_s=0.08):
    """Per video frame: RMS of the frame's samples, Gaussian-smoothed, scaled to [0, 1] by its 95th percentile."""
    edges = np.minimum(np.round(np.arange(n_frames + 1) * rate / fps).astype(int), len(audio))
    energy = np.concatenate([[0.0], np.cumsum(np.asarray(audio, np.float64) ** 2)])[edges]
    rms = np.sqrt(np.diff(energy) / np.maximum(np.diff(edges), 1))
    smooth = gaussian_filter1d(rms, sigma_s * fps, mode="nearest")
    top = np.percentile(smooth, 95)
    return np.clip(smooth / top, 0.0, 1.0) if top > 0 else np.zeros(n_frames)


def _wobble(rng, t):
    """A smooth random signal in [-1, 1]: two sinusoids of 0.4-1.4 Hz with random phases.  Faster camera moves
    make MediaPipe Holistic lose a hand now and then (its hand crops follow the smoothed, lagging pose)."""
    f1, f2 = rng.uniform(0.4, 0.8), rng.uniform(0.9, 1.4)
    p1, p2 = rng.uniform(0, 2 * np.pi, size=2)
    return 0.6 * np.sin(2 * np.pi * f1 * t + p1) + 0.4 * np.sin(2 * np.pi * f2 * t + p2)


def camera_path(loudness, photo_size, rng, fps=FPS):
    """Per frame (zoom, centre x, centre y, roll in degrees) of the camera window over the photo.

    The window has the photo's aspect ratio and size ``photo / zoom``; centre and roll wobble with an amplitude
    proportional to loudness, inside the room that keeps the rolled window within the photo and the span KEEP_X
    of the photo within the window.
    """
    w, h = photo_size
    t = np.arange(len(loudness)) / fps
    wx, wy, wr = (_wobble(rng, t) for _ in range(3))
    zoom = ZOOM_BASE + ZOOM_SPEECH * gaussian_filter1d(loudness, 0.5 * fps, mode="nearest")
    roll = MAX_ROLL_DEG * loudness * wr
    half_w, half_h = w / 2 / zoom, h / 2 / zoom
    sin = np.sin(np.radians(MAX_ROLL_DEG))
    # where the centre may be: the rolled window's corners inside the photo, the KEEP_X span inside the window
    lo_x = np.maximum(half_w + half_h * sin, KEEP_X[1] * w - half_w + half_h * sin)
    hi_x = np.minimum(w - half_w - half_h * sin, KEEP_X[0] * w + half_w - half_h * sin)
    room_y = h / 2 - half_h - half_w * sin
    if (hi_x < lo_x).any() or (room_y < 0).any():
        raise ValueError(f"a {w}x{h} photo leaves no room for the camera: change ZOOM_BASE, ZOOM_SPEECH, KEEP_X")
    cx = (lo_x + hi_x) / 2 + PAN_FRACTION * (hi_x - lo_x) / 2 * loudness * wx
    cy = h / 2 + PAN_FRACTION * room_y * loudness * wy
    return np.stack([zoom, cx, cy, roll], axis=1)  # (T, 4)


def render_frame(photo, zoom, cx, cy, roll, size=SIZE):
    """The camera's view of ``photo`` (BGR), letterboxed into a black ``size`` canvas: (H, W, 3) uint8."""
    h, w = photo.shape[:2]
    out_w, out_h = size
    content_w = min(out_w, int(round(out_h * w / h / 2)) * 2)  # the photo's aspect ratio, even width
    content_h = int(round(content_w * h / w))
    scale = zoom * content_w / w
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(roll), float(scale))
    m[:, 2] += (content_w / 2 - cx, content_h / 2 - cy)  # window centre -> content centre
    view = cv2.warpAffine(photo, m, (content_w, content_h), flags=cv2.INTER_LINEAR)  # window inside photo
    canvas = np.zeros((out_h, out_w, 3), np.uint8)
    x0, y0 = (out_w - content_w) // 2, (out_h - content_h) // 2
    canvas[y0 : y0 + content_h, x0 : x0 + content_w] = view
    return canvas


def _encoder(path, wav, n_threads):
    width, height = SIZE
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-framerate", str(FPS), "-i", "-",
           "-i", str(wav), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "libx264", "-preset", "veryfast",
           "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-threads", str(n_threads),
           "-movflags", "+faststart", str(path)]
    return cmd


def make_sample_video(photo, video, seconds, seed, index=0, threads=0, espeak="espeak-ng"):
    """Write the sample speaker's video ``video`` (mp4: 1280x720, 25 fps H.264 + AAC), deterministic in
    (seed, index): the index (from 'sample03') makes every video of a speaker different."""
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(photo, "not a readable image")
    rng = np.random.default_rng([int(seed), int(index)])
    start = time.perf_counter()
    audio = synthesize_speech(seconds, rng, espeak=espeak)
    n_frames = int(round(seconds * FPS))
    cams = camera_path(loudness_envelope(audio, AUDIO_RATE, n_frames), image.shape[1::-1], rng)
    log.info("speech: %.1f s in %.1f s; rendering %d frames", seconds, time.perf_counter() - start, n_frames)
    with tempfile.TemporaryDirectory() as tmp, atomic_path(video, suffix=".mp4") as out:
        wav = Path(tmp) / "speech.wav"
        soundfile.write(wav, audio, AUDIO_RATE, subtype="PCM_16")
        with open(Path(tmp) / "ffmpeg.err", "w+b") as err:
            proc = subprocess.Popen(_encoder(out, wav, threads), stdin=subprocess.PIPE, stderr=err)
            try:
                for i, cam in enumerate(tqdm(cams, desc=f"render {Path(video).name}", unit="frame",
                                             disable=None, mininterval=5)):
                    proc.stdin.write(render_frame(image, *cam).tobytes())
                    if (i + 1) % 250 == 0:
                        log.info("frame %d/%d (%.1f s)", i + 1, n_frames, time.perf_counter() - start)
                proc.stdin.close()
            except BrokenPipeError:
                pass  # ffmpeg died: its exit status and stderr say why
            finally:
                if proc.poll() is None and not proc.stdin.closed:  # interrupted while rendering
                    proc.kill()
            if proc.wait() != 0:
                err.seek(0)
                raise RuntimeError(f"ffmpeg could not encode {video}: {stderr_tail(err.read())}")
    log.info("wrote %s (%d frames, %.1f s) in %.1f s", video, n_frames, seconds, time.perf_counter() - start)
