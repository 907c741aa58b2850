"""Rule compute_stats (docs/dataset.md §13): a speaker's pose statistics over its train clips and its ``scale_factor``.

stats.npz (read it with :func:`sdt.poses.load_stats`): mean_parted, std_parted, mean_global, std_global float32
[2, 121]; scale_factor float; scale_rule str; n_train_clips int; stats_source str (``computed`` or ``release``);
release_name str (the name looked up in the release's tables, "" if none); shoulder_px float (mean shoulder width
of the train poses, for the record).

Which statistics (``stats``, per speaker in the config):
  computed  mean and std over the speaker's own train clips (below)
  release   the release's hard-coded numbers of the speaker (config/published/README.md: ``SPEAKERS_STAT_121`` and
            ``SPEAKERS_STAT_121_parted``, shipped as config/published/release_speakers_stat.json): the authors'
            checkpoints were trained and evaluated with them, so evaluating those checkpoints exactly needs them
  auto      release for a released speaker (scale rule ``released``) that both tables cover, else computed

The scale_factor puts every speaker's final results on Oliver's scale.  The release gives Oliver's factor for his
shoulder width of 331.085 px; a pose with shoulder width ``w`` px therefore gets ``0.95492... * 331.085 / w``:
  rescaled_to_oliver  poses were rescaled to ``reference_px`` (default Oliver's width): w = reference_px, so the
                      default gives exactly Oliver's factor, as the release says
  shoulder_width      poses kept their own size: w = the mean shoulder width measured over the train poses
  released            the release's own factor of the speaker (release_speakers_stat.json: oliver, kubinec, luo,
                      xing and the Speech2Gesture speakers); a released speaker of another name falls back to
                      shoulder_width (logged, and recorded in scale_rule)
The release's factor of a speaker is that of its parted table (the two tables agree for oliver, kubinec, luo,
xing, jon; for almaram, conan, ellen, shelly they differ by 1-3 %: logged, the global one kept as
``scale_factor_global``).
"""

import functools
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from sdt import constants, layout
from sdt.constants import OLIVER_SCALE_FACTOR, OLIVER_SHOULDER_PX, REPO
from sdt.errors import InputError
from sdt.io import save_npz
from sdt.poses import to_121, to_parted

log = logging.getLogger(__name__)

# The release's per-speaker statistics (config/published/README.md), data beside the config; rule compute_stats
# passes the path.
RELEASE_STATS_JSON = REPO / constants.RELEASE_STATS_JSON
SCALE_RULES = ("rescaled_to_oliver", "shoulder_width", "released")
STATS_CHOICES = ("auto", "release", "computed")
UNDETECTED_PX = 5.0  # docs/dataset.md §13: a raw point with |x| < 5 and |y| < 5 is "undetected" for the statistics
STD_FLOOR = 1e-6  # a coordinate that never varies gets std 1, so normalising it cannot divide by ~0


def detected_mask(pose137):
    """[..., 3 or 2, 137] raw px -> [..., 137] bool: False where the point is undetected for the statistics.

    "Undetected" (docs/dataset.md §13) means the point's raw coordinates are near the origin, |x| < 5 and |y| < 5
    px, which is how detectors write a missing point (0, 0).  The release applies this test to the absolute
    137-point coordinates (neck-relative value + neck); so do we."""
    return ~((np.abs(pose137[..., 0, :]) < UNDETECTED_PX) & (np.abs(pose137[..., 1, :]) < UNDETECTED_PX))


def _value_masks(det137):
    """[..., 137] detected -> masks [..., 121] of the values that are data, global and parted.

    A value is data when every raw point it is computed from was detected: the point and the neck (global);
    also the parent (parted: a hand point relative to an undetected wrist is not a measurement)."""
    glob = det137[..., layout.KEEP_121] & det137[..., layout.NECK:layout.NECK + 1]
    return glob, glob & glob[..., layout.PARENT_OR_SELF_121]


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
    representations (docs/dataset.md §13).  ``poses137`` [N, T, 3 or 2, 137] raw px (a memory map is fine: it is read
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


@functools.cache
def _release_tables(path):
    data = json.loads(Path(path).read_text())
    return data["global"], data["parted"]


def release_stats(name, path=RELEASE_STATS_JSON):
    """The release's statistics of speaker ``name`` as stats.npz holds them (mean/std _global and _parted float32
    [2, 121], scale_factor, scale_factor_global), or None when its two tables do not both cover the name."""
    glob, part = _release_tables(str(path))
    name = str(name or "").strip().lower()
    if name not in glob or name not in part:
        return None
    out = {}
    for kind, table in (("global", glob), ("parted", part)):
        for key in ("mean", "std"):  # 242 numbers = reshape(2, 121): x row, y row
            out[f"{key}_{kind}"] = np.asarray(table[name][key], dtype=np.float32).reshape(2, layout.N_121)
    out["scale_factor"], out["scale_factor_global"] = part[name]["scale_factor"], glob[name]["scale_factor"]
    return out


def release_speakers(path=RELEASE_STATS_JSON):
    """The speaker names both of the release's tables cover."""
    glob, part = _release_tables(str(path))
    return sorted(set(glob) & set(part))


def scale_factor(rule, shoulder_px, reference_px=OLIVER_SHOULDER_PX, speaker=None, release_json=RELEASE_STATS_JSON):
    """(scale_factor, rule actually used) for one of :data:`SCALE_RULES`."""
    if rule not in SCALE_RULES:
        raise ValueError(f"unknown scale rule {rule!r}; expected one of {SCALE_RULES}")
    if rule == "released":
        known = release_stats(speaker, release_json)
        if known is not None:
            return known["scale_factor"], rule
        log.warning("speaker %r has no released scale_factor (known: %s): using its shoulder width instead",
                    speaker, ", ".join(release_speakers(release_json)))
        rule = "shoulder_width"
    width = reference_px if rule == "rescaled_to_oliver" else shoulder_px
    if not np.isfinite(width) or width <= 0:
        raise ValueError(f"cannot use shoulder width {width} px for the scale factor")
    return factor_for_width(width), rule


def choose_stats(choice, scale_rule, name, release_json=RELEASE_STATS_JSON):
    """'release' or 'computed' for the config's ``stats`` choice (:data:`STATS_CHOICES`); ValueError when the
    release's statistics are asked for a speaker its tables do not cover."""
    if choice not in STATS_CHOICES:
        raise ValueError(f"stats must be one of {STATS_CHOICES}, got {choice!r}")
    covered = release_stats(name, release_json) is not None
    if choice == "release" and not covered:
        raise ValueError(f"stats: release, but the release has no statistics of speaker {name!r} (it has "
                         f"{', '.join(release_speakers(release_json))}): use stats: computed")
    if choice == "auto":
        return "release" if covered and scale_rule == "released" else "computed"
    return choice


def released_speaker_name(index_csv, default=None):
    """The release's own name of the speaker: the one value of clips.csv's ``speaker`` column (else ``default``)."""
    try:
        names = pd.read_csv(index_csv, usecols=["speaker"], dtype=str)["speaker"].dropna().str.strip().unique()
    except (OSError, ValueError) as e:
        raise InputError(index_csv, f"cannot read the speaker column ({e})") from e
    names = [n for n in names if n]
    return names[0] if len(names) == 1 else default


def compute_stats(train_poses, stats_out, scale_rule, reference_px=OLIVER_SHOULDER_PX, speaker=None, index=None,
                  stats="computed", release_json=RELEASE_STATS_JSON):
    """train_poses.npy [N, 64, 3, 137] (memory-mapped) -> stats.npz.

    The speaker's name (for the release's scale_factor and statistics) is the one in clips.csv (``index``, when
    given: the release's own name, whatever the config calls the speaker), else ``speaker``.  ``stats``: one of
    :data:`STATS_CHOICES`.  Returns the dict that was saved."""
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
    if index is not None:
        speaker = released_speaker_name(index, speaker)
    try:
        source = choose_stats(stats, scale_rule, speaker, release_json)
    except ValueError as e:
        raise InputError(train_poses, str(e)) from e
    shoulder_px = mean_shoulder_width(poses)
    if source == "release":
        out = _release_stats_record(speaker, release_json)
    else:
        out = _computed_stats_record(train_poses, poses, scale_rule, shoulder_px, reference_px, speaker, release_json)
    out.update(n_train_clips=np.int64(len(poses)), shoulder_px=np.float64(shoulder_px), stats_source=np.str_(source),
               release_name=np.str_(speaker if source == "release" or out["scale_rule"] == "released" else ""))
    save_npz(stats_out, **out)
    log.info("%s: %d train clips, shoulder width %.2f px, scale_factor %.10g (%s), %s statistics%s",
             Path(train_poses).parent, len(poses), shoulder_px, out["scale_factor"], out["scale_rule"], source,
             f" of the release's speaker {speaker!r} ({release_json})" if source == "release" else "")
    return out


def _computed_stats_record(path, poses, scale_rule, shoulder_px, reference_px, speaker, release_json):
    """Statistics over the train clips ``poses`` (read from ``path``) and the scale_factor of ``scale_rule``."""
    try:
        factor, rule = scale_factor(scale_rule, shoulder_px, reference_px, speaker, release_json)
    except ValueError as e:
        raise InputError(path, str(e)) from e
    if scale_rule == "rescaled_to_oliver" and abs(shoulder_px / reference_px - 1) > 0.05:
        log.warning("train poses were rescaled to %.1f px but their shoulder width is %.1f px", reference_px,
                    shoulder_px)
    return {**compute_pose_stats(poses), "scale_factor": np.float64(factor), "scale_rule": np.str_(rule)}


def _release_stats_record(name, release_json):
    """The release's statistics and scale_factor of speaker ``name``."""
    known = release_stats(name, release_json)
    if abs(known["scale_factor"] / known["scale_factor_global"] - 1) > 1e-9:
        log.warning("the release's tables give speaker %r two scale factors (parted %.6g, global %.6g): using the "
                    "parted one", name, known["scale_factor"], known["scale_factor_global"])
    return {**{k: v for k, v in known.items() if k.startswith(("mean", "std"))},
            "scale_factor": np.float64(known["scale_factor"]),
            "scale_factor_global": np.float64(known["scale_factor_global"]), "scale_rule": np.str_("released")}
