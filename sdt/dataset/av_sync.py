"""Is the speech in sync with the mouth?  The lag between a video's audio and its frames, from the inner-lip opening
and the speech's loudness envelope (docs/dataset.md §11): a video whose audio is shifted by a second goes into clips
whose speech belongs to other poses, and nothing else in the chain can see it.

The lag is the shift of the envelope against the opening that maximises their Pearson correlation over the frames
with a complete person, searched within +-MAX_LAG_S; positive = the audio comes late.  Measured on the sample
speaker's three 44 s videos as the workflow detects them: in sync, the best lag is 0 (r 0.92-0.94); with the audio
shifted by +-1, 2, 3, 5 or 15 frames the best lag is that shift, every time, with the in-sync r (0.92-0.94), while r
at lag 0 falls to 0.81-0.84 (1 frame), 0.56-0.65 (2), 0.45-0.52 (3), 0.32-0.45 (5) and -0.17..-0.07 (15).  A video
is *out of sync* when its best lag is at least WARN_FRAMES (2 frames = 133 ms, beyond the 125 ms of audio delay that
viewers start to notice, ITU-R BT.1359) and correlates better than lag 0 by at least MIN_GAIN (2 frames gained
0.27-0.32 here): a 1-frame offset is within what viewers accept, and a flat correlation (a speaker who hardly
opens the mouth) decides nothing.
"""

import logging
from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from sdt.constants import FPS
from sdt.layout import FACE

log = logging.getLogger(__name__)

MOUTH = (FACE.start + 62, FACE.start + 66)  # 137-indices of the inner lip centres, upper and lower
MAX_LAG_S = 2.0  # the lags searched: +-2 s
WARN_FRAMES = 2  # a best lag of 2 frames (133 ms) or more is out of sync ...
MIN_GAIN = 0.1  # ... when its correlation beats lag 0's by this much
MIN_FRAMES = 45  # 3 s of frames with a face: fewer measure nothing


def loudness_envelope(audio, rate, n_frames, fps=FPS, sigma_s=0.08):
    """Per video frame: RMS of the frame's samples, Gaussian-smoothed, scaled to [0, 1] by its 95th percentile."""
    edges = np.minimum(np.round(np.arange(n_frames + 1) * rate / fps).astype(int), len(audio))
    energy = np.concatenate([[0.0], np.cumsum(np.asarray(audio, np.float64) ** 2)])[edges]
    rms = np.sqrt(np.diff(energy) / np.maximum(np.diff(edges), 1))
    smooth = gaussian_filter1d(rms, sigma_s * fps, mode="nearest") if sigma_s > 0 else rms
    top = np.percentile(smooth, 95)
    return np.clip(smooth / top, 0.0, 1.0) if top > 0 else np.zeros(n_frames)


def lip_opening(pose):
    """pose [T, >=2, 137] (px) -> the distance between the inner lip centres [T]."""
    return np.linalg.norm(pose[:, :2, MOUTH[0]] - pose[:, :2, MOUTH[1]], axis=1)


@dataclass(frozen=True)
class Sync:
    lag_frames: int  # the best lag: > 0 the audio comes late
    r: float  # correlation at the best lag
    r_zero: float  # correlation at lag 0
    frames: int  # frames measured
    fps: float

    @property
    def lag_ms(self):
        return 1000.0 * self.lag_frames / self.fps

    @property
    def out_of_sync(self):
        return abs(self.lag_frames) >= WARN_FRAMES and self.r - self.r_zero >= MIN_GAIN

    def describe(self):
        return (f"audio {'late' if self.lag_frames > 0 else 'early'} by {abs(self.lag_frames)} frames "
                f"({abs(self.lag_ms):.0f} ms): mouth-speech r {self.r:.2f} there, {self.r_zero:.2f} at 0"
                if self.lag_frames else f"in sync (mouth-speech r {self.r:.2f} at lag 0)")

    def record(self):
        return {**asdict(self), "lag_ms": self.lag_ms, "out_of_sync": self.out_of_sync}


def _corr(a, b):
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


def measure_sync(pose, valid, audio, rate, fps=FPS, max_lag_s=MAX_LAG_S):
    """The best lag between ``audio`` (16 kHz samples from the first frame) and the lips of ``pose`` [T, 3, 137]
    over the ``valid`` frames [T]; None when fewer than MIN_FRAMES are valid or the mouth never moves."""
    n = len(pose)
    opening = lip_opening(pose)
    env = loudness_envelope(audio, rate, n, fps)
    max_lag = int(round(max_lag_s * fps))
    scores = {}
    for lag in range(-max_lag, max_lag + 1):  # compare opening[t] with env[t + lag]
        t = np.arange(max(0, -lag), min(n, n - lag))
        t = t[valid[t]]
        if len(t) >= MIN_FRAMES:
            scores[lag] = _corr(opening[t], env[t + lag])
    if 0 not in scores or np.ptp(opening[valid]) == 0:
        return None
    best = max(scores, key=lambda k: (scores[k], -abs(k)))  # ties: the smaller shift
    return Sync(int(best), scores[best], scores[0], int(valid.sum()), float(fps))


def shift_audio(audio, lag_frames, rate, fps=FPS):
    """The audio moved ``lag_frames`` earlier (a late audio track put back in sync; negative: later, with
    silence at the start)."""
    k = int(round(lag_frames * rate / fps))
    if k >= 0:
        return audio[k:]
    return np.concatenate([np.zeros(-k, dtype=audio.dtype), audio])
