"""Rule compute_stats (SDT_SPEC 2.8): a speaker's pose statistics over its train clips and its ``scale_factor``.

stats.npz (read it with :func:`sdt.poses.load_stats`): mean_parted, std_parted, mean_global, std_global float32
[2, 121]; scale_factor float; scale_rule str; n_train_clips int; shoulder_px float (mean shoulder width of the
train poses, for the record).

The scale_factor puts every speaker's final results on Oliver's scale.  The release gives Oliver's factor for his
shoulder width of 331.085 px; a pose with shoulder width ``w`` px therefore gets ``0.95492... * 331.085 / w``:
  rescaled_to_oliver  poses were rescaled to ``reference_px`` (default Oliver's width): w = reference_px, so the
                      default gives exactly Oliver's factor, as the release says
  shoulder_width      poses kept their own size: w = the mean shoulder width measured over the train poses
  released            the release's own factor of the speaker (oliver, kubinec, luo, xing); a released speaker of
                      another name falls back to shoulder_width (logged, and recorded in scale_rule)
"""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from sdt import layout
from sdt.errors import InputError
from sdt.io import save_npz
from sdt.poses import compute_pose_stats, detected_mask

log = logging.getLogger(__name__)

OLIVER_SCALE_FACTOR = 0.9549234615419752
OLIVER_SHOULDER_PX = 331.0850066245443
RELEASED_SCALE_FACTORS = {
    "oliver": 0.9549234615419752,
    "kubinec": 1.0914536376627224,
    "luo": 0.7677720132349674,
    "xing": 0.9187941449738536,
}
SCALE_RULES = ("rescaled_to_oliver", "shoulder_width", "released")


def mean_shoulder_width(poses137, chunk=256):
    """Mean distance between 137-points 2 and 5 (px) over every frame of ``poses137`` [N, T, 3 or 2, 137] where
    both shoulders were detected; a memory map is read ``chunk`` clips at a time.  NaN if there is no such frame."""
    total, count = 0.0, 0
    for i in range(0, len(poses137), chunk):
        xy = np.asarray(poses137[i:i + chunk, :, :2], dtype=np.float64)  # [n, T, 2, 137]
        det = detected_mask(xy)
        ok = det[..., layout.R_SHOULDER] & det[..., layout.L_SHOULDER]
        width = np.linalg.norm(xy[..., layout.R_SHOULDER] - xy[..., layout.L_SHOULDER], axis=-1)
        total += width[ok].sum()
        count += int(ok.sum())
    return total / count if count else float("nan")


def factor_for_width(width_px):
    """Oliver's scale_factor carried over to a speaker whose mean shoulder width is ``width_px``."""
    return OLIVER_SCALE_FACTOR * (OLIVER_SHOULDER_PX / float(width_px))


def scale_factor(rule, shoulder_px, reference_px=OLIVER_SHOULDER_PX, speaker=None):
    """(scale_factor, rule actually used) for one of :data:`SCALE_RULES`."""
    if rule not in SCALE_RULES:
        raise ValueError(f"unknown scale rule {rule!r}; expected one of {SCALE_RULES}")
    if rule == "released":
        name = str(speaker or "").strip().lower()
        if name in RELEASED_SCALE_FACTORS:
            return RELEASED_SCALE_FACTORS[name], rule
        log.warning("speaker %r has no released scale_factor (known: %s): using its shoulder width instead",
                    speaker, ", ".join(RELEASED_SCALE_FACTORS))
        rule = "shoulder_width"
    width = reference_px if rule == "rescaled_to_oliver" else shoulder_px
    if not np.isfinite(width) or width <= 0:
        raise ValueError(f"cannot use shoulder width {width} px for the scale factor")
    return factor_for_width(width), rule


def released_speaker_name(index_csv, default=None):
    """The release's own name of the speaker: the one value of clips.csv's ``speaker`` column (else ``default``)."""
    try:
        names = pd.read_csv(index_csv, usecols=["speaker"], dtype=str)["speaker"].dropna().str.strip().unique()
    except (OSError, ValueError) as e:
        raise InputError(index_csv, f"cannot read the speaker column ({e})") from e
    names = [n for n in names if n]
    return names[0] if len(names) == 1 else default


def compute_stats(train_poses, stats_out, scale_rule, reference_px=OLIVER_SHOULDER_PX, speaker=None, index=None):
    """train_poses.npy [N, 64, 3, 137] (memory-mapped) -> stats.npz.

    For the ``released`` rule the speaker's name is the one in clips.csv (``index``, when given: the release's own
    name, whatever the config calls the speaker), else ``speaker``.  Returns the dict that was saved."""
    if scale_rule not in SCALE_RULES:
        raise ValueError(f"unknown scale rule {scale_rule!r}; expected one of {SCALE_RULES}")
    try:
        poses = np.load(train_poses, mmap_mode="r")
    except (OSError, ValueError) as e:
        raise InputError(train_poses, f"cannot read train poses ({e})") from e
    if poses.ndim != 4 or poses.shape[2:] != (3, layout.N_137):
        raise InputError(train_poses, f"train poses must be [N, T, 3, 137], got {list(poses.shape)}")
    if len(poses) == 0:
        raise InputError(train_poses, "no train clips to compute statistics from")
    if scale_rule == "released" and index is not None:
        speaker = released_speaker_name(index, speaker)
    stats = compute_pose_stats(poses)
    shoulder_px = mean_shoulder_width(poses)
    try:
        factor, rule = scale_factor(scale_rule, shoulder_px, reference_px, speaker)
    except ValueError as e:
        raise InputError(train_poses, str(e)) from e
    if scale_rule == "rescaled_to_oliver" and abs(shoulder_px / reference_px - 1) > 0.05:
        log.warning("train poses were rescaled to %.1f px but their shoulder width is %.1f px", reference_px,
                    shoulder_px)
    out = {
        **stats,
        "scale_factor": np.float64(factor),
        "scale_rule": np.str_(rule),
        "n_train_clips": np.int64(len(poses)),
        "shoulder_px": np.float64(shoulder_px),
    }
    save_npz(stats_out, **out)
    log.info("%s: %d train clips, shoulder width %.2f px, scale_factor %.10g (%s)", Path(train_poses).parent,
             len(poses), shoulder_px, factor, rule)
    return out
