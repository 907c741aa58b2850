"""Rule make_sample_video: the bundled sample speaker, a real photo's person who gestures while espeak-ng speaks.

Photo: ``messi5.jpg`` from Debian's ``opencv-doc`` package (OpenCV's sample data,
usr/share/doc/opencv-doc/examples/data/messi5.jpg, 548x342; a press photo of Lionel Messi watermarked
"WEEKmedia", distributed by OpenCV under its own BSD/Apache licence with no separate licence for the picture):
envs/setup.sh extracts it, it is never committed.  MediaPipe Holistic finds body, face and both hands on it.

Picture: the person is cut into layers and re-posed frame by frame (sdt.dataset.sample_rig): upper arms rotate
about the shoulders, forearms with the hands about the elbows, the head rolls about the neck and the jaw opens,
over the inpainted background; framed head to waist at 1280x720, 25 fps.

Motion with known structure: the video is a sequence of gesture phrases of ``phrase_seconds`` each.  Every phrase
takes one of the TEMPLATES (chosen by the seed, independently of the speech; every template is used before one
repeats, never twice in a row); the first TRANSITION_S of a phrase eases from the previous template's pose.
Within a phrase the speech drives the strokes: each loudness peak (about one per stressed syllable) adds a short
raised-cosine pulse, scaled by the peak's loudness, along the template's stroke direction; the jaw opens with the
speech envelope.  The template of every frame goes to ``<video>.templates.csv`` (columns frame, time, phrase,
template, weight: 1 inside a phrase, rising from 0 to 1 during its transition); the workflow never reads it.

Speech: sentences from a fixed list, spoken by espeak-ng with per-sentence speed and pitch, separated by pauses,
cut or padded to exactly ``seconds``.

Deterministic: the same (seed, index) gives the same bytes on the same machine (MediaPipe's CPU inference, x264
and ffmpeg's AAC encoder are deterministic); another ffmpeg or MediaPipe build may give other bytes.
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
import pandas as pd
import soundfile
from scipy.signal import find_peaks, resample_poly
from tqdm import tqdm

from sdt.dataset.av_sync import loudness_envelope
from sdt.dataset.sample_rig import SIZE, Pose, Rig
from sdt.errors import InputError
from sdt.io import atomic_path, write_csv
from sdt.media import ffmpeg_exe, speak, stderr_tail

log = logging.getLogger(__name__)

FPS = 25
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
# Gesture templates: (upper arms (right, left), forearms (right, left), head roll) in degrees from straight down,
# positive away from the body; then the stroke: what one full-loudness stroke adds to each.  Chosen by measuring
# MediaPipe on rendered poses and strokes: both forearms across the body ("hands together", a hand over the shorts
# or the other hand) lost a hand on 10-60 % of frames, 'open' with forearms at 100 (+22) on 13 %, a right beat
# at -30 (-30) on 5-12 %; these are the tamer variants, each at 95-100 %.
TEMPLATES = {
    "rest": (((20, 20), (45, 45), 0), ((0, 0), (8, 8), 1.5)),
    "open": (((50, 50), (90, 90), 0), ((10, 10), (15, 15), 0)),
    "beat_right": (((25, 20), (-15, 45), -2), ((5, 0), (-20, 0), -2)),
    "point_left": (((20, 80), (45, 85), 4), ((0, 8), (0, -12), 0)),
    "raise_left": (((20, 30), (45, 160), -3), ((0, 5), (0, 15), 0)),
    "shrug": (((40, 40), (125, 125), 6), ((6, 6), (12, 12), 3)),
}
PHRASE_SECONDS = (4.0, 7.0)  # a phrase's duration is uniform in this range
TRANSITION_S = 1.5  # eased change of template at the start of a phrase
STROKE_S = (0.25, 0.15)  # a stroke's pulse rises over the first, falls over the second, around a loudness peak
JAW_OPEN = 0.09  # jaw opening at full loudness, in face heights
SWAY_DEG = 3.0  # slow idle sway of every joint (makes rest alive)


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


def plan_phrases(n_frames, rng, phrase_seconds=PHRASE_SECONDS, fps=FPS):
    """Per frame (phrase id [T] int, template index [T] int into TEMPLATES, weight [T] float).

    Phrase durations are uniform in ``phrase_seconds``; the templates are rounds of random permutations (every
    template once before any repeats, never twice in a row); weight eases 0 -> 1 over the first TRANSITION_S of
    every phrase but the first (the change from the previous phrase's template)."""
    bounds = [0]
    while bounds[-1] < n_frames:
        bounds.append(bounds[-1] + max(1, int(round(rng.uniform(*phrase_seconds) * fps))))
    sequence = []
    while len(sequence) < len(bounds) - 1:
        perm = list(rng.permutation(len(TEMPLATES)))
        if sequence and perm[0] == sequence[-1]:
            perm = perm[1:] + perm[:1]
        sequence += perm
    phrase = np.zeros(n_frames, int)
    weight = np.ones(n_frames)
    n_trans = max(1, int(round(TRANSITION_S * fps)))
    for k in range(1, len(bounds) - 1):
        phrase[bounds[k]:] = k
        ramp = np.arange(min(n_trans, n_frames - bounds[k])) / n_trans
        weight[bounds[k]:bounds[k] + len(ramp)] = 0.5 - 0.5 * np.cos(np.pi * ramp)
    return phrase, np.array(sequence)[phrase], weight


def stroke_signal(envelope, fps=FPS):
    """Per frame in [0, 1]: a raised-cosine pulse at every loudness peak (about one per stressed syllable), as
    high as the peak; where pulses overlap the larger wins."""
    peaks, _ = find_peaks(envelope, height=0.25, prominence=0.1, distance=max(1, int(0.25 * fps)))
    t = np.arange(len(envelope)) / fps
    out = np.zeros(len(envelope))
    for p in peaks:
        dt = t - p / fps
        width = np.where(dt < 0, STROKE_S[0], STROKE_S[1])
        pulse = np.where(np.abs(dt) < width, 0.5 + 0.5 * np.cos(np.pi * dt / width), 0.0)
        out = np.maximum(out, envelope[p] * pulse)
    return out


def _template_arrays():
    """(rest poses [K, 5], strokes [K, 5]): per template upper R, L, fore R, L, head."""
    rows = [[*a[0], *a[1], a[2]] for a, _ in TEMPLATES.values()], [[*s[0], *s[1], s[2]] for _, s in
                                                                   TEMPLATES.values()]
    return np.array(rows[0], float), np.array(rows[1], float)


def pose_track(envelope, phrase, template, weight, rng, fps=FPS):
    """Per frame joint angles [T, 5] (upper R, L, fore R, L, head roll; degrees) and jaw opening [T]."""
    rest, stroke = _template_arrays()
    prev = np.concatenate([[template[0]], template[:-1]])
    changed = np.flatnonzero(np.diff(phrase)) + 1  # first frame of each phrase after the first
    before = template.copy()
    for k, start in enumerate(changed):
        end = changed[k + 1] if k + 1 < len(changed) else len(template)
        before[start:end] = prev[start]
    w = weight[:, None]
    base = w * rest[template] + (1 - w) * rest[before]
    push = w * stroke[template] + (1 - w) * stroke[before]
    t = np.arange(len(envelope)) / fps
    freq, phase = rng.uniform(0.15, 0.4, size=5), rng.uniform(0, 2 * np.pi, size=5)
    sway = SWAY_DEG * np.sin(2 * np.pi * freq * t[:, None] + phase)
    angles = base + push * stroke_signal(envelope, fps)[:, None] + sway
    return angles, JAW_OPEN * envelope


def _encoder(path, wav, n_threads):
    width, height = SIZE
    return [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-framerate", str(FPS), "-i", "-",
            "-i", str(wav), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "libx264", "-preset", "veryfast",
            "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-threads", str(n_threads),
            "-movflags", "+faststart", str(path)]


def labels_path(video):
    """Where the per-frame template labels of ``video`` go: results/.../source/sample00.templates.csv."""
    return Path(video).with_suffix(".templates.csv")


def _encode(frames, n_frames, audio, video, threads, start):
    """Pipe the rendered frames and the speech into ffmpeg; writes ``video`` atomically."""
    with tempfile.TemporaryDirectory() as tmp, atomic_path(video, suffix=".mp4") as out:
        wav = Path(tmp) / "speech.wav"
        soundfile.write(wav, audio, AUDIO_RATE, subtype="PCM_16")
        with open(Path(tmp) / "ffmpeg.err", "w+b") as err:
            proc = subprocess.Popen(_encoder(out, wav, threads), stdin=subprocess.PIPE, stderr=err)
            try:
                for i, frame in enumerate(tqdm(frames, total=n_frames, desc=f"render {Path(video).name}",
                                               unit="frame", disable=None, mininterval=5)):
                    proc.stdin.write(frame.tobytes())
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


def make_sample_video(photo, video, seconds, seed, index=0, threads=0, espeak="espeak-ng", labels=None,
                      phrase_seconds=PHRASE_SECONDS):
    """Write the sample speaker's video ``video`` (mp4: 1280x720, 25 fps H.264 + AAC) and its per-frame template
    labels ``labels`` (default :func:`labels_path`), deterministic in (seed, index): the index (from
    'sample03') makes every video of a speaker different."""
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(photo, "not a readable image")
    start = time.perf_counter()
    rig = Rig(image, source=photo)
    rng = np.random.default_rng([int(seed), int(index)])
    audio = synthesize_speech(seconds, rng, espeak=espeak)
    n_frames = int(round(seconds * FPS))
    envelope = loudness_envelope(audio, AUDIO_RATE, n_frames, fps=FPS, sigma_s=0.04)
    phrase, template, weight = plan_phrases(n_frames, rng, phrase_seconds)
    angles, jaw = pose_track(envelope, phrase, template, weight, rng)
    log.info("rig and speech: %.1f s; rendering %d frames", time.perf_counter() - start, n_frames)
    frames = (rig.render(Pose(tuple(a[0:2]), tuple(a[2:4]), a[4], j)) for a, j in zip(angles, jaw, strict=True))
    _encode(frames, n_frames, audio, video, threads, start)
    names = np.array(list(TEMPLATES))
    write_csv(labels or labels_path(video), pd.DataFrame({
        "frame": np.arange(n_frames), "time": np.round(np.arange(n_frames) / FPS, 4), "phrase": phrase,
        "template": names[template], "weight": np.round(weight, 4)}))
    log.info("wrote %s (%d frames, %.1f s) in %.1f s", video, n_frames, seconds, time.perf_counter() - start)
