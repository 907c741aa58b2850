"""Pose transforms of SDT_SPEC 1.3 and the speaker statistics of SDT_SPEC 2.8.

Every transform works on numpy arrays and on torch tensors alike (same type, dtype and device out as in), with
any leading batch dimensions, and never modifies its input.  Layouts:
  137-point pose  [..., 3 or 2, 137]  x px, y px (, confidence); an undetected point is (0, 0, 0)
  121-point pose  [..., 2, 121]       x, y relative to the neck (global) or parted (SDT_SPEC 1.3)
"""

import numpy as np
import torch

from sdt import layout
from sdt.errors import InputError

UNDETECTED_PX = 5.0  # SDT_SPEC 2.8: a raw point with |x| < 5 and |y| < 5 is "undetected" for the statistics
STD_FLOOR = 1e-6  # a coordinate that never varies gets std 1, so normalising it cannot divide by ~0

_CHILD = np.flatnonzero(layout.PARENT_121 >= 0)  # 121-indices of parted points (face but 39, both hands)
_PARENT = layout.PARENT_121[_CHILD]  # their parents (39, 6, 3), which are never children themselves
assert not np.isin(_PARENT, _CHILD).any()
_HAS_PARENT = (layout.PARENT_121 >= 0).astype(np.float32)  # [121]
_PARENT_OR_SELF = np.where(layout.PARENT_121 >= 0, layout.PARENT_121, np.arange(layout.N_121))  # [121]

STATS_KEYS = ("mean_parted", "std_parted", "mean_global", "std_global")


def _const(a, like):
    """Constant ``a`` (ndarray, tensor or number) as the array kind of ``like``: a tensor on its device, or an
    ndarray; in ``like``'s dtype when that is floating (so float32 poses stay float32)."""
    if isinstance(like, torch.Tensor):
        dtype = like.dtype if like.is_floating_point() else None
        a = a if isinstance(a, torch.Tensor) else np.asarray(a)
        return torch.as_tensor(a, dtype=dtype, device=like.device)
    dtype = like.dtype if np.issubdtype(like.dtype, np.floating) else None
    return np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=dtype)


def _take(x, idx):
    """x[..., idx] for an integer array ``idx`` (np.take is several times faster than fancy indexing)."""
    if isinstance(x, torch.Tensor):
        return x.index_select(-1, torch.as_tensor(idx, device=x.device))
    return np.take(x, idx, axis=-1)


def _zeros(shape, like):
    if isinstance(like, torch.Tensor):
        return like.new_zeros(shape)
    return np.zeros(shape, dtype=like.dtype)


def to_121(pose137):
    """[..., 3 or 2, 137] absolute px -> [..., 2, 121]: keep the 122 points (layout.KEEP_122), make them
    relative to the neck (137-index 1), drop the neck.  Confidence is dropped."""
    if pose137.shape[-1] != layout.N_137 or pose137.shape[-2] < 2:
        raise ValueError(f"expected a [..., 3 or 2, 137] pose, got shape {tuple(pose137.shape)}")
    xy = pose137[..., :2, :]
    return _take(xy, layout.KEEP_121) - xy[..., layout.NECK:layout.NECK + 1]


def from_121(p121, neck=None):
    """[..., 2, 121] neck-relative (global) -> [..., 2, 137] absolute, for drawing.

    ``neck`` [..., 2] (or [2]) is the neck's position (default: the origin); the 15 points dropped by
    :func:`to_121` (legs, ears) come back as (0, 0), i.e. undetected."""
    out = _zeros(tuple(p121.shape[:-1]) + (layout.N_137,), p121)
    neck = _zeros(tuple(p121.shape[:-1]), p121) + (0 if neck is None else _const(neck, p121))  # [..., 2]
    out[..., layout.KEEP_121] = p121 + neck[..., None]
    out[..., layout.NECK] = neck
    return out


def to_parted(g):
    """Global [..., 2, 121] -> parted (SDT_SPEC 1.3): face points 9-78 except 39 relative to 39, left hand
    79-99 relative to 6 (left wrist), right hand 100-120 relative to 3 (right wrist).  The parents stay
    neck-relative, so one subtraction per point is the whole transform and :func:`to_global` undoes it."""
    return g - _take(g, _PARENT_OR_SELF) * _const(_HAS_PARENT, g)


def to_global(p):
    """Parted [..., 2, 121] -> global (neck-relative): the inverse of :func:`to_parted`."""
    return p + _take(p, _PARENT_OR_SELF) * _const(_HAS_PARENT, p)


def normalise(p, mean, std):
    """(p - mean) / std; p [..., 2, 121], mean and std [2, 121]."""
    return (p - _const(mean, p)) / _const(std, p)


def denormalise(p, mean, std):
    """p * std + mean: the inverse of :func:`normalise`."""
    return p * _const(std, p) + _const(mean, p)


def stats_for(stats, parted):
    """(mean, std) [2, 121] of the chosen representation from a :func:`load_stats` dict."""
    kind = "parted" if parted else "global"
    return stats[f"mean_{kind}"], stats[f"std_{kind}"]


def final_results(pred_norm, stats, parted):
    """Normalised model output [..., 2, 121] -> final results (SDT_SPEC 1.3): denormalise with the statistics
    of its representation, undo the parting, multiply by the speaker's scale_factor.  What metrics and
    renderings use: neck-relative px on Oliver's scale."""
    p = denormalise(pred_norm, *stats_for(stats, parted))
    if parted:
        p = to_global(p)
    return p * float(stats["scale_factor"])


def load_stats(path):
    """Read a speaker's stats.npz (contract: mean_parted, std_parted, mean_global, std_global [2, 121],
    scale_factor, scale_rule, n_train_clips) -> dict with float32 arrays, a float, a str and an int."""
    try:
        with np.load(path, allow_pickle=False) as z:
            raw = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise InputError(path, f"cannot read statistics ({e})") from e
    missing = [k for k in (*STATS_KEYS, "scale_factor", "scale_rule", "n_train_clips") if k not in raw]
    if missing:
        raise InputError(path, f"statistics lack {', '.join(missing)}")
    stats = {}
    for k in STATS_KEYS:
        a = np.asarray(raw[k], dtype=np.float32)
        if a.shape != (2, layout.N_121) or not np.isfinite(a).all():
            raise InputError(path, f"{k} must be a finite [2, 121] array, got shape {a.shape}")
        stats[k] = a
    if (stats["std_parted"] <= 0).any() or (stats["std_global"] <= 0).any():
        raise InputError(path, "a standard deviation is <= 0")
    stats["scale_factor"] = float(raw["scale_factor"])
    stats["scale_rule"] = str(raw["scale_rule"])
    stats["n_train_clips"] = int(raw["n_train_clips"])
    return stats


def detected_mask(pose137):
    """[..., 3 or 2, 137] raw px -> [..., 137] bool: False where the point is undetected for the statistics.

    "Undetected" (SDT_SPEC 2.8) means the point's raw coordinates are near the origin, |x| < 5 and |y| < 5
    px, which is how detectors write a missing point (0, 0).  The release applies this test to the absolute
    137-point coordinates (neck-relative value + neck); so do we."""
    return ~((np.abs(pose137[..., 0, :]) < UNDETECTED_PX) & (np.abs(pose137[..., 1, :]) < UNDETECTED_PX))


def _value_masks(det137):
    """[..., 137] detected -> masks [..., 121] of the values that are data, global and parted.

    A value is data when every raw point it is computed from was detected: the point and the neck (global);
    also the parent (parted: a hand point relative to an undetected wrist is not a measurement)."""
    glob = det137[..., layout.KEEP_121] & det137[..., layout.NECK:layout.NECK + 1]
    return glob, glob & glob[..., _PARENT_OR_SELF]


class _FrameMoments:
    """Per frame position t and point k: count, sum and sum of squares (float64) of the kept values."""

    def __init__(self, n_frames):
        self.n = np.zeros((n_frames, layout.N_121))
        self.s1 = np.zeros((n_frames, 2, layout.N_121))
        self.s2 = np.zeros((n_frames, 2, layout.N_121))

    def add(self, vals, mask):  # vals [n, T, 2, 121] float64, mask [n, T, 121] bool
        w = mask[:, :, None, :]
        v = np.where(w, vals, 0.0)
        self.n += mask.sum(0)
        self.s1 += v.sum(0)
        self.s2 += (v * v).sum(0)

    def mean_std(self):
        """Release aggregation: the mean of each frame position's mean; the std is each frame position's RMS
        deviation from that overall mean, averaged over frame positions.  Positions without data are left out;
        a point without any data gets mean 0, std 1."""
        has = self.n > 0  # [T, 121]
        n = np.maximum(self.n, 1)[:, None, :]
        n_pos = np.maximum(has.sum(0), 1)  # [121]
        mean = np.where(has[:, None], self.s1 / n, 0.0).sum(0) / n_pos  # [2, 121]
        var_t = (self.s2 - 2 * mean * self.s1 + self.n[:, None] * mean**2) / n  # about the overall mean
        std = np.where(has[:, None], np.sqrt(np.maximum(var_t, 0.0)), 0.0).sum(0) / n_pos
        std = np.where(std < STD_FLOOR, 1.0, std)
        return mean.astype(np.float32), std.astype(np.float32)


def compute_pose_stats(poses137, chunk=256):
    """Mean and std [2, 121] float32 of every 121-point coordinate over training clips, for both
    representations (SDT_SPEC 2.8).  ``poses137`` [N, T, 3 or 2, 137] raw px (a memory map is fine: it is read
    ``chunk`` clips at a time) -> dict(mean_parted, std_parted, mean_global, std_global).

    Values computed from an undetected point (:func:`detected_mask`, :func:`_value_masks`) are skipped.  The
    release's aggregation is kept: statistics per frame position of the clip, then averaged over the T
    positions (``_FrameMoments.mean_std``); a std below 1e-6 becomes 1.
    Two departures from the release, both moot on outlier-cleaned clips (where no kept point is undetected):
    its parted test adds the neck back to a parent-relative value, so it never skips an undetected face or
    hand point; and it ignores an undetected neck or parent.
    """
    if poses137.ndim != 4 or poses137.shape[-1] != layout.N_137 or poses137.shape[-2] < 2:
        raise ValueError(f"expected poses [N, T, 3 or 2, 137], got shape {tuple(poses137.shape)}")
    if len(poses137) == 0:
        raise ValueError("no clips to compute statistics from")
    acc = {"global": _FrameMoments(poses137.shape[1]), "parted": _FrameMoments(poses137.shape[1])}
    for i in range(0, len(poses137), chunk):
        raw = np.asarray(poses137[i:i + chunk, :, :2], dtype=np.float64)  # [n, T, 2, 137]
        m_glob, m_part = _value_masks(detected_mask(raw))
        g = to_121(raw)
        acc["global"].add(g, m_glob)
        acc["parted"].add(to_parted(g), m_part)
    out = {}
    for kind, moments in acc.items():
        out[f"mean_{kind}"], out[f"std_{kind}"] = moments.mean_std()
    return out
