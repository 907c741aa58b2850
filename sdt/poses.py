"""Pose transforms of docs/dataset.md §3 and reading a speaker's statistics (stats.npz, rule compute_stats).

Every transform works on numpy arrays and on torch tensors alike (same type, dtype and device out as in), with
any leading batch dimensions, and never modifies its input.  Layouts:
  137-point pose  [..., 3 or 2, 137]  x px, y px (, confidence); an undetected point is (0, 0, 0)
  121-point pose  [..., 2, 121]       x, y relative to the neck (global) or parted (docs/dataset.md §4)
"""

import numpy as np
import torch

from sdt import layout
from sdt.errors import InputError
from sdt.io import load_npz

_CHILD = np.flatnonzero(layout.PARENT_121 >= 0)  # 121-indices of parted points (face but 39, both hands)
_PARENT = layout.PARENT_121[_CHILD]  # their parents (39, 6, 3), which are never children themselves
assert not np.isin(_PARENT, _CHILD).any()
_HAS_PARENT = (layout.PARENT_121 >= 0).astype(np.float32)  # [121]

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


def to_121(pose137):
    """[..., 3 or 2, 137] absolute px -> [..., 2, 121]: keep the 122 points (layout.KEEP_122), make them
    relative to the neck (137-index 1), drop the neck.  Confidence is dropped."""
    if pose137.shape[-1] != layout.N_137 or pose137.shape[-2] < 2:
        raise ValueError(f"expected a [..., 3 or 2, 137] pose, got shape {tuple(pose137.shape)}")
    xy = pose137[..., :2, :]
    return _take(xy, layout.KEEP_121) - xy[..., layout.NECK:layout.NECK + 1]


def to_parted(g):
    """Global [..., 2, 121] -> parted (docs/dataset.md §4): face points 9-78 except 39 relative to 39, left hand
    79-99 relative to 6 (left wrist), right hand 100-120 relative to 3 (right wrist).  The parents stay
    neck-relative, so one subtraction per point is the whole transform and :func:`to_global` undoes it."""
    return g - _take(g, layout.PARENT_OR_SELF_121) * _const(_HAS_PARENT, g)


def to_global(p):
    """Parted [..., 2, 121] -> global (neck-relative): the inverse of :func:`to_parted`."""
    return p + _take(p, layout.PARENT_OR_SELF_121) * _const(_HAS_PARENT, p)


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
    """Normalised model output [..., 2, 121] -> final results (docs/dataset.md §5): denormalise with the statistics
    of its representation, undo the parting, multiply by the speaker's scale_factor.  What metrics and
    renderings use: neck-relative px on Oliver's scale."""
    p = denormalise(pred_norm, *stats_for(stats, parted))
    if parted:
        p = to_global(p)
    return p * float(stats["scale_factor"])


def from_final(poses_final, stats, parted):
    """Final results [..., 2, 121] -> normalised poses of a representation: the inverse of
    :func:`final_results` (divide by scale_factor, make parted if ``parted``, normalise)."""
    p = poses_final / float(stats["scale_factor"])
    if parted:
        p = to_parted(p)
    return normalise(p, *stats_for(stats, parted))


def release_global_to_encoder(pred_norm_global, stats):
    """What the release feeds the pose encoder for a global-pose model (Speech2Gesture), its
    ``transform_normalized_parted2global`` (core/datasets/gesture_dataset.py; docs/evaluation.md §3, issue 14): the
    normalised *global* poses [..., 2, 121] taken as if they were parted, denormalised with the parted statistics, made
    global (parents added) and normalised with the global statistics.  The release applies it to the prediction and to
    the truth alike."""
    p = to_global(denormalise(pred_norm_global, *stats_for(stats, True)))
    return normalise(p, *stats_for(stats, False))


def load_stats(path):
    """Read a speaker's stats.npz (contract: mean_parted, std_parted, mean_global, std_global [2, 121],
    scale_factor, scale_rule, n_train_clips; stats_source, "computed" when absent) -> dict with float32 arrays, a
    float, str and an int."""
    required = (*STATS_KEYS, "scale_factor", "scale_rule", "n_train_clips")
    raw = load_npz(path, None, what="statistics file", require=required)
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
    stats["stats_source"] = str(raw.get("stats_source", "computed"))  # computed from the clips, or the release's
    return stats
