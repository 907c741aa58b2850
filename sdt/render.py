"""Drawing final-result poses (docs/dataset.md §5: neck-relative px, [T, 2, 121]) as skeleton videos and figures.

The release's look: lines only (no dots) on a white canvas of 1280x720 per speaker, anti-aliased; body green,
face grey, hands shaded per finger.  Here the two hands get different hues (left blue, right orange) so a
left/right swap is visible at once.  A panel is fitted to the poses it shows (one common scale for every panel
of a figure, so prediction and ground truth, or several templates, stay comparable).

Videos go through one ffmpeg pipe (raw BGR frames on stdin -> H.264 yuv420p) muxed with the speech (AAC); figures
(pyplot, save_figure) are matplotlib's.  Every output is written atomically.
"""

import logging
import math
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import soundfile
from tqdm import tqdm

from sdt import layout
from sdt.constants import FPS
from sdt.io import atomic_path

log = logging.getLogger(__name__)

CANVAS = (720, 1280)  # (H, W) of one speaker's panel: the release's SYS.CANVAS_SIZE
BODY_BGR = (25, 175, 25)  # the release's body green
FACE_BGR = (100, 100, 100)  # and its face grey
LHAND_BGR = [(255, 90 + 30 * f, 20) for f in range(5)]  # blue, lighter per finger (thumb .. little)
RHAND_BGR = [(20, 90 + 30 * f, 255) for f in range(5)]  # red-orange, lighter per finger
WIDTHS = {"body": 4, "face": 2, "hand": 3}  # line widths (px) on a 720-px-high panel, as in the release
SHIFT = 4  # cv2 fractional bits: sub-pixel line ends
_ONE = 1 << SHIFT

# 137-index -> row of the drawing array: the 121 model points, then the neck (the origin of final results)
_ROW = {int(k): i for i, k in enumerate(layout.KEEP_121)} | {layout.NECK: layout.N_121}


def _rows(edges):
    return np.array([(_ROW[a], _ROW[b]) for a, b in edges], dtype=np.int64)


# (edge rows [E, 2], BGR, width key) per colour group; hands: the 20 edges are 4 per finger, thumb first
GROUPS = (
    [(_rows(layout.FACE_EDGES), FACE_BGR, "face"), (_rows(layout.BODY_EDGES), BODY_BGR, "body")]
    + [(_rows(layout.LHAND_EDGES[4 * f:4 * f + 4]), LHAND_BGR[f], "hand") for f in range(5)]
    + [(_rows(layout.RHAND_EDGES[4 * f:4 * f + 4]), RHAND_BGR[f], "hand") for f in range(5)]
)


@dataclass
class View:
    """Pose units -> panel pixels: ``xy_px = xy * scale + origin`` (origin = where the neck is drawn)."""

    scale: float
    origin: tuple[float, float]
    line_scale: float = 1.0  # multiplies WIDTHS


def fit_view(sequences, size, top=0, margin=0.06, quantile=0.5):
    """One :class:`View` that fits every pose of ``sequences`` (arrays [..., 2, 121]) into a panel of ``size``
    (H, W) below a ``top``-px title band.  The box is the ``quantile``..100-``quantile`` percentile range of
    all points and the neck, so a single wild point (an untrained model) cannot shrink the figure."""
    h, w = size
    pts = [np.zeros((2, 1))] + [np.moveaxis(np.asarray(s, np.float64), -2, 0).reshape(2, -1) for s in sequences]
    pts = np.concatenate(pts, axis=1)
    pts = pts[:, np.isfinite(pts).all(0)]
    lo = np.percentile(pts, quantile, axis=1)
    hi = np.percentile(pts, 100 - quantile, axis=1)
    span = np.maximum(hi - lo, 1e-6)
    avail = np.array([w, h - top]) * (1 - 2 * margin)
    scale = float(np.min(avail / span))
    centre = (lo + hi) / 2
    origin = (w / 2 - centre[0] * scale, top + (h - top) / 2 - centre[1] * scale)
    return View(scale, origin, line_scale=max(h / CANVAS[0], 0.35))


def draw_pose(img, pose, view):
    """Draw one pose [2, 121] (final results) onto ``img`` (BGR uint8, modified in place) with ``view``."""
    xy = np.concatenate([np.asarray(pose, np.float64).T, np.zeros((1, 2))])  # [122, 2], neck last
    px = xy * view.scale + np.asarray(view.origin)
    ok = np.isfinite(px).all(1) & (np.abs(px) < 1e5).all(1)
    fixed = np.round(np.where(ok[:, None], px, 0) * _ONE).astype(np.int32)
    for edges, colour, kind in GROUPS:
        keep = ok[edges].all(1)
        if keep.any():
            lines = list(fixed[edges[keep]])  # each [2, 2]: one segment
            width = max(1, round(WIDTHS[kind] * view.line_scale))
            cv2.polylines(img, lines, False, colour, width, cv2.LINE_AA, SHIFT)
    return img


def put_text(img, text, org, height, colour=(0, 0, 0), centre=False):
    """``text`` with its cap height about ``height`` px; ``org`` is its baseline start (or centre)."""
    scale = height / 22.0  # FONT_HERSHEY_SIMPLEX is ~22 px high at scale 1
    thick = max(1, round(scale * 1.6))
    if centre:
        (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        org = (org[0] - tw // 2, org[1])
    cv2.putText(img, text, (int(org[0]), int(org[1])), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)


def grid_shape(k, max_cols=None):
    """(rows, cols) of a near-square grid holding ``k`` panels (cols >= rows)."""
    cols = math.ceil(math.sqrt(k)) if max_cols is None else min(max_cols, k)
    return math.ceil(k / cols), cols


def _even(n):
    return int(n) + int(n) % 2


class PanelLayout:
    """``k`` panels of ``panel`` (H, W) px in a grid, each with a title band; a caption band below the grid."""

    def __init__(self, k, panel=CANVAS, titles=None, shape=None, caption=False):
        self.k = k
        self.rows, self.cols = shape or grid_shape(k)
        self.ph, self.pw = _even(panel[0]), _even(panel[1])
        self.title_h = max(18, round(self.ph * 0.07)) if titles else 0
        self.caption_h = _even(max(18, round(self.ph * 0.06))) if caption else 0
        self.size = (self.rows * self.ph + self.caption_h, self.cols * self.pw)  # (H, W), both even
        self.background = np.full((*self.size, 3), 255, np.uint8)
        for i in range(k):
            y, x = self.corner(i)
            if titles:
                put_text(self.background, titles[i], (x + self.pw // 2, y + self.title_h * 0.75),
                         self.title_h * 0.5, centre=True)
        for c in range(1, self.cols):
            self.background[: self.rows * self.ph, c * self.pw - 1] = 200  # thin grey separators
        for r in range(1, self.rows):
            self.background[r * self.ph - 1] = 200

    def corner(self, i):
        return (i // self.cols) * self.ph, (i % self.cols) * self.pw  # (y, x) of panel i

    def fit(self, sequences):
        return fit_view(sequences, (self.ph, self.pw), top=self.title_h)

    def frames(self, sequences, view=None, captions=None):
        """Yield BGR frames [H, W, 3]: panel i shows ``sequences[i]`` [T, 2, 121]; ``captions`` [T] str."""
        view = view or self.fit(sequences)
        n = len(sequences[0])
        for t in range(n):
            img = self.background.copy()
            for i, seq in enumerate(sequences):
                y, x = self.corner(i)
                draw_pose(img[y:y + self.ph, x:x + self.pw], seq[t], view)
            if captions is not None:
                put_text(img, captions[t], (8, self.size[0] - self.caption_h * 0.25), self.caption_h * 0.5)
            yield img


def _fit_audio(audio, n_frames, fps, rate):
    """Audio of exactly ``n_frames / fps`` s: zero-padded at the end; a longer track is an error, not a crop
    (up to half a frame of excess, the rounding of the frame count, is dropped)."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    n = int(round(n_frames * rate / fps))
    if len(audio) > n + rate / fps / 2:
        raise ValueError(f"{len(audio)} audio samples are longer than the {n_frames} frames of the video ({n})")
    return np.pad(audio[:n], (0, max(0, n - len(audio))))


def write_video(path, frames: Iterable[np.ndarray], n_frames, size, fps=FPS, audio=None, audio_rate=16000,
                crf=20, threads=0):
    """``n_frames`` frames (BGR uint8 [H, W, 3], H and W even) piped to ffmpeg -> H.264 yuv420p mp4, with
    ``audio`` (float samples at ``audio_rate``; padded to the video's length) as its AAC sound track.
    Written atomically; a frame of the wrong shape or a wrong count is an error."""
    from sdt.media import ffmpeg_exe, stderr_tail

    h, w = size
    if h % 2 or w % 2:
        raise ValueError(f"yuv420p needs an even frame size, got {w}x{h}")
    with tempfile.TemporaryDirectory(prefix="sdt_render_") as tmpdir, atomic_path(path, suffix=".mp4") as tmp:
        cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "pipe:0"]
        if audio is not None:
            wav = Path(tmpdir) / "audio.wav"
            soundfile.write(wav, _fit_audio(audio, n_frames, fps, audio_rate), audio_rate, subtype="FLOAT")
            cmd += ["-i", str(wav), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "128k"]
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
                "-threads", str(threads), "-movflags", "+faststart", str(tmp)]
        n = 0
        with open(Path(tmpdir) / "stderr.txt", "w+b") as err:  # a file, so a chatty ffmpeg never blocks us
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err)
            try:
                for frame in frames:
                    if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
                        raise ValueError(f"frame {n} is {frame.shape} {frame.dtype}, expected ({h}, {w}, 3) uint8")
                    proc.stdin.write(np.ascontiguousarray(frame).tobytes())
                    n += 1
            except BrokenPipeError:
                pass  # ffmpeg died: its message is reported below
            finally:
                proc.stdin.close()
                rc = proc.wait()
            err.seek(0)
            if rc != 0:
                raise RuntimeError(f"ffmpeg could not encode {path} (exit {rc}): {stderr_tail(err.read())}")
        if n != n_frames:
            raise ValueError(f"{n} frames were given for a video of {n_frames}")
    log.info("wrote %s: %d frames (%dx%d, %s fps)%s", path, n, w, h, fps, " with audio" if audio is not None else "")
    return n


def render_video(path, sequences, titles=None, audio=None, audio_rate=16000, fps=FPS, panel=CANVAS, shape=None,
                 captions=None, threads=0):
    """Poses [T, 2, 121] per panel (same T) -> an mp4 of the panels in a grid with titles, and the audio."""
    sequences = [np.asarray(s, np.float32) for s in sequences]
    if len({len(s) for s in sequences}) != 1:
        raise ValueError(f"every panel needs the same number of frames, got {[len(s) for s in sequences]}")
    grid = PanelLayout(len(sequences), panel, titles, shape, caption=captions is not None)
    frames = grid.frames(sequences, captions=captions)
    frames = tqdm(frames, total=len(sequences[0]), desc="render", unit="frame", leave=False, disable=None)
    return write_video(path, frames, len(sequences[0]), grid.size, fps, audio, audio_rate, threads=threads)


def strip_image(sequences, titles=None, n=8, panel=(360, 270), fps=FPS):
    """A figure of ``n`` evenly spaced frames: one row per sequence [T, 2, 121] (left: its title), one column
    per time (top: the time in s), the release's "long image".  -> BGR uint8 [H, W, 3]."""
    sequences = [np.asarray(s, np.float32) for s in sequences]
    n_frames = len(sequences[0])
    idx = np.unique(np.round(np.linspace(0, n_frames - 1, min(n, n_frames))).astype(int))
    ph, pw = panel
    label_w = pw // 2 if titles else 0
    head = max(18, ph // 12)
    img = np.full((head + ph * len(sequences), label_w + pw * len(idx), 3), 255, np.uint8)
    view = fit_view([s[idx] for s in sequences], panel)
    for j, t in enumerate(idx):
        put_text(img, f"{t / fps:.1f} s", (label_w + j * pw + pw // 2, head * 0.75), head * 0.45, centre=True)
    for r, seq in enumerate(sequences):
        y = head + r * ph
        if titles:
            put_text(img, titles[r], (6, y + ph // 2), min(head * 0.45, 1.6 * label_w / max(len(titles[r]), 1)))
        for j, t in enumerate(idx):
            x = label_w + j * pw
            draw_pose(img[y:y + ph, x:x + pw], seq[t], view)
    return img


def save_png(path, img):
    with atomic_path(path, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), img):
            raise RuntimeError(f"could not write {path}")


# -- matplotlib figures (the report's plots) ----------------------------------------------------------------------

def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path):
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    pyplot().close(fig)
