"""Rule rescale_shoulders: a video's keypoints scaled to a reference shoulder width (docs/dataset.md §6, step 5).

Shoulder width = |p2 - p5| (137-points RShoulder, LShoulder); x and y of every frame (confidences untouched) are
multiplied by ``reference_px / mean width over kept frames``.  331.085 px is Oliver's mean width, so a rescaled
speaker can reuse Oliver's ``scale_factor``.  A video with no kept frame cannot be measured: it is written unscaled
(factor 1.0, shoulder_px NaN) with a warning rather than failing, because generate_clips then makes 0 clips from it
(every window is ``dropped_invalid``) and qc.csv reports it, while the rest of the speaker's videos still build.  (A
video with no person on any frame already fails in detect_keypoints.)

``per="shot"`` (dataset.rescale_per; the default for a ``videos:`` speaker): one factor per shot, the frames
between two cuts that remove_outliers found (its ``cut`` array), each from the mean width over the shot's kept
frames; a shot without a kept frame takes the video's factor (it gives no clip anyway).  Real footage zooms between
shots, and one factor per file would leave the shots at different scales.  ``per="video"`` is the release's rule.
"""

import logging

import numpy as np

from sdt.constants import OLIVER_SHOULDER_PX
from sdt.dataset.keypoints import load_keep, load_pose_file
from sdt.errors import InputError
from sdt.io import load_npz, save_npz
from sdt.layout import L_SHOULDER, R_SHOULDER

log = logging.getLogger(__name__)


def shoulder_width(pose, keep):
    """Mean distance between 137-points 2 and 5 over the kept frames (px); NaN when no frame is kept."""
    keep = np.asarray(keep, dtype=bool)
    if not keep.any():
        return float("nan")
    d = pose[keep][:, :2, R_SHOULDER].astype(np.float64) - pose[keep][:, :2, L_SHOULDER]
    return float(np.mean(np.hypot(d[:, 0], d[:, 1])))


def rescale_factor(shoulder_px, reference_px, enabled=True):
    """The multiplier for x, y: reference_px / shoulder_px; 1.0 when disabled or nothing was measured."""
    if not enabled or not np.isfinite(shoulder_px):
        return 1.0
    if shoulder_px <= 0:
        raise ValueError(f"mean shoulder width is {shoulder_px} px: cannot rescale")
    return float(reference_px) / float(shoulder_px)


def rescale_pose(pose, factor):
    """A new [T, 3, 137] float32 array with x and y multiplied by ``factor``; confidences copied as they are."""
    out = np.array(pose, dtype=np.float32, copy=True)
    if factor != 1.0:
        out[:, :2] *= np.float32(factor)
    return out


def shot_ids(cut):
    """cut [T] bool (a cut before frame t) -> shot index int64 [T], 0 for the first shot."""
    return np.cumsum(np.asarray(cut, dtype=bool), dtype=np.int64)


def shot_factors(pose, keep, shot, reference_px, video_factor):
    """One factor per shot [n_shots] (reference_px / the shot's mean kept width; video_factor where none is kept)."""
    n = int(shot.max()) + 1 if len(shot) else 0
    out = np.full(n, video_factor, dtype=np.float64)
    for k in range(n):
        width = shoulder_width(pose, keep & (shot == k))
        if np.isfinite(width) and width > 0:
            out[k] = float(reference_px) / width
    return out


def load_cut(outliers_path, n_frames):
    """The outliers file's cut [T] (all False for a file written before cuts were detected)."""
    arrays = load_npz(outliers_path, what="outliers file", skip=("keep", "reason"))
    cut = np.asarray(arrays.get("cut", np.zeros(n_frames, dtype=bool)), dtype=bool)
    if cut.shape != (n_frames,):
        raise InputError(outliers_path, f"cut has shape {cut.shape}, the keypoints have {n_frames} frames")
    return cut


def rescale_shoulders(keypoints_path, outliers_path, out_path, enabled=True, reference_px=OLIVER_SHOULDER_PX,
                      per="video"):
    """The rescale_shoulders step -> rescaled npz (pose, factor, shoulder_px, reference_px, enabled, fps; per="shot":
    also per, shot [T] and shot_factor [n_shots]).

    Returns {"factor", "shoulder_px", "kept_frames"} (+ "shot_factor").  Inputs are only read."""
    if per not in ("video", "shot"):
        raise ValueError(f"per must be 'video' or 'shot', not {per!r}")
    arrays = load_pose_file(keypoints_path, ("pose", "fps"))
    pose = arrays["pose"]
    keep = load_keep(outliers_path, len(pose), keypoints_path)
    shoulder_px = shoulder_width(pose, keep)
    if not np.isfinite(shoulder_px):
        log.warning("%s: no kept frame to measure the shoulder width on: written unscaled (factor 1); "
                    "this video will give no clips", keypoints_path)
    try:
        factor = rescale_factor(shoulder_px, reference_px, enabled)
    except ValueError as err:
        raise InputError(keypoints_path, str(err)) from err
    extra = {}
    if per == "shot" and enabled:
        shot = shot_ids(load_cut(outliers_path, len(pose)))
        shot_factor = shot_factors(pose, keep, shot, reference_px, factor)
        scaled = np.array(pose, dtype=np.float32, copy=True)
        scaled[:, :2] *= shot_factor[shot].astype(np.float32)[:, None, None]
        extra = {"per": "shot", "shot": shot, "shot_factor": shot_factor}
        log.info("%s: %d shots, factors %s", keypoints_path, len(shot_factor), np.round(shot_factor, 4).tolist())
    else:
        scaled = rescale_pose(pose, factor)
    save_npz(out_path, pose=scaled, factor=factor, shoulder_px=shoulder_px,
             reference_px=float(reference_px), enabled=bool(enabled), fps=float(arrays["fps"]), **extra)
    log.info("%s: mean shoulder width %.2f px over %d kept frames; rescaling %s: x, y multiplied by %.6f",
             keypoints_path, shoulder_px, int(keep.sum()), "enabled" if enabled else "disabled", factor)
    out = {"factor": factor, "shoulder_px": shoulder_px, "kept_frames": int(keep.sum())}
    if extra:
        out["shot_factor"] = extra["shot_factor"]
    return out
