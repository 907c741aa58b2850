"""Evaluation metrics of docs/evaluation.md §3, on final results (denormalised, global, times scale_factor).

Poses are [..., T, 2, P] (a split: [N, 64, 2, 121]); numpy arrays or torch tensors (converted to float64
numpy).  Per-clip metrics return an array of the leading shape ([N]); a split's value is its mean (every clip
has the same T and P, so that equals the release's mean over all frames and points).  L2, lip-sync error and
FTD: lower is better.  Added here (not in the paper): diversity (higher = more varied), PCK (higher is better), and
two metrics the field reports today (Bailando, Li et al. CVPR 2022; EMAGE, Liu et al. CVPR 2024), so SDT's rows can
be compared with newer work: beat consistency BC (higher = motion beats closer to the speech onsets) and L1
diversity L1div (higher = more varied across clips).
"""

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import linalg

from sdt import layout
from sdt.constants import AUDIO_RATE, FPS, FTD_INPUTS
from sdt.evaluate.settings import PCK_THRESHOLD

LIP_EPS = 1e-4  # the release's guard against a clip whose mouth never opens
FRECHET_EPS = 1e-6  # diagonal offset when sqrtm of the covariance product is not finite (standard FID recipe)
BC_SIGMA = 0.3  # s: the Gaussian width of beat consistency (EMAGE's 0.3 s)
BC_WINDOW = 3  # frames on each side a motion beat's speed must be below: +-0.2 s at 15 fps (EMAGE: +-7 at 30 fps)
ONSET_HOP = 512  # samples between onset-strength frames (librosa's default, EMAGE's call): 32 ms at 16 kHz
# FTD on both pose-encoder inputs of a global-pose model (issue 14; docs/evaluation.md §3): ``release`` (the release's
# transform_normalized_parted2global) and ``parted`` (the prediction made parted); FTD is the configured one.
# For a parted model both inputs are the same.  Stored in the evaluation JSON, not in the table's columns.
FTD_BY_INPUT = tuple(f"{m}_{i}" for i in FTD_INPUTS for m in ("FTD", "FTD_mu_logvar"))


def _np(x):
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _pair(pred, true):
    pred, true = _np(pred), _np(true)
    if pred.shape != true.shape or pred.ndim < 3 or pred.shape[-2] != 2:
        raise ValueError(f"expected two [..., T, 2, P] poses of one shape, got {pred.shape} and {true.shape}")
    return pred, true


def point_distances(pred, true):
    """[..., T, 2, P] twice -> Euclidean distance of every point [..., T, P]."""
    pred, true = _pair(pred, true)
    return np.linalg.norm(pred - true, axis=-2)


def l2(pred, true):
    """Mean Euclidean distance over frames and points, per clip: [..., T, 2, P] -> [...] (px)."""
    return point_distances(pred, true).mean(axis=(-2, -1))


def lip_opening(pose):
    """[..., T, 2, 121] -> [..., T]: distance between the inner lip centres (121-points 75 and 71)."""
    pose = _np(pose)
    return np.linalg.norm(pose[..., layout.M_LIP_LOWER_INNER] - pose[..., layout.M_LIP_UPPER_INNER], axis=-1)


def lip_sync_error(pred, true):
    """Per clip [...]: mean over frames of |pred opening - true opening|, both divided by the clip's largest
    true opening + 1e-4 (so it is about a fraction of the mouth's full opening, whatever the face size)."""
    pred, true = _pair(pred, true)
    o_pred, o_true = lip_opening(pred), lip_opening(true)  # [..., T]
    scale = o_true.max(axis=-1, keepdims=True) + LIP_EPS
    return np.abs(o_pred / scale - o_true / scale).mean(axis=-1)


def fit_gaussian(x):
    """Samples [N, D] -> mean [D], covariance [D, D] (unbiased, N - 1, as ``np.cov``); N >= 2."""
    x = _np(x)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"expected samples [N >= 2, D], got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1, cov1, mu2, cov2, eps=FRECHET_EPS):
    """Frechet distance between N(mu1, cov1) and N(mu2, cov2): |m1 - m2|^2 + Tr(C1 + C2 - 2 sqrt(C1 C2)).

    C1 C2 of covariances fitted to fewer samples than dimensions is singular: when ``sqrtm`` of it is not
    finite, ``eps`` is added to both diagonals; the numerical imaginary part of the root is dropped, and a
    distance that rounding makes slightly negative is returned as 0."""
    mu1, mu2 = np.atleast_1d(_np(mu1)), np.atleast_1d(_np(mu2))
    cov1, cov2 = np.atleast_2d(_np(cov1)), np.atleast_2d(_np(cov2))
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != mu1.shape * 2:
        raise ValueError(f"mismatched Gaussians: means {mu1.shape} {mu2.shape}, covariances {cov1.shape} "
                         f"{cov2.shape}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)  # singular products are expected; handled below
        root = linalg.sqrtm(cov1 @ cov2)
        if not np.isfinite(root).all():
            offset = np.eye(len(cov1)) * eps
            root = linalg.sqrtm((cov1 + offset) @ (cov2 + offset))
    diff = mu1 - mu2
    d = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(root).real
    return max(float(d), 0.0)


def ftd(codes_pred, codes_true):
    """Frechet Template Distance: Frechet distance of Gaussians fitted to the pose VAE's codes [N, D] of the
    predicted and of the true clips of a split (D = 32 for ``mu``, 64 for ``[mu, logvar]``)."""
    return frechet_distance(*fit_gaussian(codes_pred), *fit_gaussian(codes_true))


def diversity(samples):
    """K predictions for the same audio [K, ..., T, 2, P] -> per clip [...]: mean L2 (px) over the
    K (K - 1) / 2 pairs of samples.  Higher means more varied gestures; 0 when every sample is the same."""
    samples = _np(samples)
    k = len(samples)
    if k < 2:
        raise ValueError(f"diversity needs K >= 2 samples, got {k}")
    pairs = [l2(samples[i], samples[j]) for i in range(k) for j in range(i + 1, k)]
    return np.mean(pairs, axis=0)


def pck(pred, true, threshold=PCK_THRESHOLD):
    """Percentage of correct keypoints, per clip [...] in [0, 1]: the fraction of (frame, point) pairs whose
    predicted point lies within ``threshold`` * L of the true one, where L is the larger side of the true
    pose's bounding box on that frame (all P points; PCK@0.2 of the larger bbox side, as common for 2D pose).
    Higher is better."""
    pred, true = _pair(pred, true)
    extent = true.max(axis=-1) - true.min(axis=-1)  # [..., T, 2] bbox width, height
    ref = threshold * extent.max(axis=-1)  # [..., T]
    return (point_distances(pred, true) <= ref[..., None]).mean(axis=(-2, -1))


def aggregate(per_seed, names=None):
    """Mean and sample standard deviation (ddof 1; None with one run) over runs, per metric of ``names`` (missing
    or None: None)."""
    mean, std = {}, {}
    for m in METRICS if names is None else names:
        values = [r.get(m) for r in per_seed]
        if any(v is None or not math.isfinite(v) for v in values):
            mean[m] = std[m] = None
            continue
        mean[m] = float(np.mean(values))
        std[m] = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return mean, std


def audio_onsets(audio, rate=AUDIO_RATE):
    """Onset times (s) of one clip's speech: ``librosa.onset.onset_detect(units="time")`` with hop 512, as EMAGE
    computes its audio beats (spectral-flux onset strength of a log-mel spectrogram, peak-picked)."""
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    return librosa.onset.onset_detect(y=audio, sr=rate, hop_length=ONSET_HOP, units="time")


def mean_speed(poses, fps=FPS):
    """[..., T, 2, P] -> [..., T] (px/s): each point's speed by central differences (one-sided at the two ends, as
    EMAGE), averaged over the points."""
    poses = _np(poses)
    vel = np.gradient(poses, 1.0 / fps, axis=-3)  # [..., T, 2, P]
    return np.linalg.norm(vel, axis=-2).mean(axis=-1)


def motion_beats(poses, fps=FPS, window=BC_WINDOW):
    """Motion beats of one sequence [T, 2, P]: the frames whose mean keypoint speed is strictly below the speed of
    the ``window`` frames on each side (``scipy.signal.argrelextrema(np.less)``; near the ends the window is cut
    off).  A still sequence has none."""
    from scipy.signal import argrelextrema

    return argrelextrema(mean_speed(poses, fps), np.less, order=window)[0]


def beat_alignment(onsets, beats, sigma=BC_SIGMA):
    """Mean over audio onsets (s) of exp(-d^2 / (2 sigma^2)), d the time (s) to the nearest motion beat: 1 when a
    motion beat falls on every onset, 0 without motion beats; NaN without onsets (nothing to align to)."""
    onsets, beats = np.asarray(onsets, np.float64), np.asarray(beats, np.float64)
    if len(onsets) == 0:
        return math.nan
    if len(beats) == 0:
        return 0.0
    d = np.abs(onsets[:, None] - beats[None, :]).min(axis=1)
    return float(np.exp(-(d**2) / (2 * sigma**2)).mean())


def beat_consistency(poses, onsets, fps=FPS, window=BC_WINDOW, sigma=BC_SIGMA):
    """BC per clip [N]: poses [N, T, 2, P] (final results), ``onsets`` N arrays of audio onset times (s)."""
    poses = _np(poses)
    if len(poses) != len(onsets):
        raise ValueError(f"{len(poses)} clips of poses but {len(onsets)} of onsets")
    return np.array([beat_alignment(a, motion_beats(p, fps, window) / fps, sigma) for p, a in zip(poses, onsets,
                                                                                                   strict=True)])


def l1_diversity(poses):
    """L1 diversity of a split's predictions [N, T, 2, P] (EMAGE's L1div): the mean over all N x T frames and the
    P points of the L1 distance (|dx| + |dy|, px) of each point to its mean over the split.  EMAGE sums over its
    joints' coordinates; a mean over points keeps px per point, as L2.  0 for a method that never moves."""
    poses = _np(poses)
    mean = poses.reshape(-1, *poses.shape[-2:]).mean(axis=0)  # [2, P]
    return float(np.abs(poses - mean).sum(axis=-2).mean())


# -- the registry: one home for every metric's name, computation, header, decimals and direction -------------------
@dataclass(frozen=True)
class ClipContext:
    """What a per-clip metric may need besides the poses: the PCK threshold and each clip's speech onsets (s)."""

    pck_threshold: float = PCK_THRESHOLD
    onsets: list | None = None


@dataclass(frozen=True)
class Metric:
    name: str  # its key in evaluation JSONs, validation histories (val_<name>) and tables
    label: str  # its column header, without the direction arrow
    decimals: int  # digits in this workflow's tables
    better: str  # "lower" | "higher" | "" (a description, neither better nor worse: diversity, L1div)
    note: str  # what it measures, for the tables' notes
    per_clip: Callable | None = None  # (pred, true, ClipContext) -> [B]; None: computed over the split
    nan_as_missing: bool = False  # per-clip NaN = no value for that clip (left out of the mean; all NaN -> None)
    paper_decimals: int | None = None  # as the paper's Tables 1-3 print it; None: not one of the paper's metrics

    @property
    def header(self):
        return self.label + {"lower": " ↓", "higher": " ↑"}.get(self.better, "")


REGISTRY = (
    Metric("L2", "L2", 2, "lower", "L2 (px)", per_clip=lambda p, t, c: l2(p, t), paper_decimals=1),
    Metric("lip_sync_error", "E_lip", 4, "lower", "lip-sync error",
           per_clip=lambda p, t, c: lip_sync_error(p, t), paper_decimals=2),
    Metric("FTD", "FTD", 3, "lower", "FTD (Fréchet Template Distance on the pose VAE's mu)", paper_decimals=2),
    Metric("FTD_mu_logvar", "FTD [mu, logvar]", 3, "lower", "FTD on [mu, logvar]"),
    Metric("diversity", "diversity", 2, "", "diversity (mean pairwise L2, px, between predictions for the same "
           "audio under different templates or latents): higher = more varied"),
    Metric("PCK", "PCK", 4, "higher", "PCK", per_clip=lambda p, t, c: pck(p, t, c.pck_threshold)),
    Metric("BC", "BC", 4, "higher", "BC (beat consistency: motion beats near the speech onsets, sigma 0.3 s)",
           per_clip=lambda p, t, c: beat_consistency(p, c.onsets), nan_as_missing=True),
    Metric("L1div", "L1div", 2, "", "L1div (mean L1 distance, px per point, of the predictions to their mean over "
           "the clips): higher = more varied"),
)
METRIC = {m.name: m for m in REGISTRY}
METRICS = tuple(METRIC)  # in table order
PER_CLIP = tuple(m for m in REGISTRY if m.per_clip is not None)
PAPER_METRICS = tuple(m.name for m in REGISTRY if m.paper_decimals is not None)  # the paper's columns


def split_mean(metric, per_clip):
    """A split's value of a per-clip metric from its clips' values [N]: the mean (NaN-free clips only, None when
    none, for a metric that marks missing values with NaN)."""
    if metric.nan_as_missing:
        return float(np.nanmean(per_clip)) if np.isfinite(per_clip).any() else None
    return float(np.mean(per_clip))


def metrics_note():
    """One sentence per direction: which metrics are better lower, which higher, and what the others describe."""
    lower = [m.note for m in REGISTRY if m.better == "lower" and m.name != "FTD_mu_logvar"]
    higher = [m.note for m in REGISTRY if m.better == "higher"]
    other = [m.note for m in REGISTRY if not m.better]
    return (f"{', '.join(lower)}: lower is better; {', '.join(higher)}: higher is better; " + "; ".join(other) + ".")
