"""Outlier removal and shoulder rescaling of a video's keypoints (SDT_SPEC 2, steps 4 and 5).

Outliers (rule remove_outliers): every frame gets a reason code, 0 = kept.  A frame without a complete person
(``valid`` False in the keypoints file: body, face or a hand not found; or all 137 points at 0, 0) is
``no_person`` (1).  Otherwise it is ``undetected_point`` (2) when any of the KEEP_122 points (the 121 model points
plus the neck, which every model point is made relative to) has x <= outlier_px and y <= outlier_px, which is how
a detector writes a missing point (0, 0); a non-finite coordinate counts as undetected too.

Rescaling (rule rescale_shoulders): shoulder width = |p2 - p5| (137-points RShoulder, LShoulder); x and y of every
frame (confidences untouched) are multiplied by ``reference_px / mean width over kept frames``.  331.085 px is
Oliver's mean width, so a rescaled speaker can reuse Oliver's ``scale_factor``.  A video with no kept frame cannot
be measured: it is written unscaled (factor 1.0, shoulder_px NaN) with a warning rather than failing, because
generate_clips then makes 0 clips from it (every window is ``dropped_invalid``) and qc.csv reports it, while the
rest of the speaker's videos still build.  (A video with no person on any frame already fails in
detect_keypoints.)
"""

import logging
import zipfile
from pathlib import Path

import numpy as np

from sdt.errors import InputError
from sdt.io import save_npz
from sdt.layout import KEEP_122, L_SHOULDER, N_137, R_SHOULDER

log = logging.getLogger(__name__)

REASONS = ("kept", "no_person", "undetected_point")  # index = reason code in the outliers file
KEPT, NO_PERSON, UNDETECTED_POINT = 0, 1, 2


def load_pose_file(path, keys=("pose",)):
    """Arrays ``keys`` of a keypoints/rescaled npz, with the pose checked to be [T, 3, 137]."""
    path = Path(path)
    try:
        with np.load(path) as z:
            files = list(z.files)
            arrays = {k: z[k] for k in keys if k in files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(path, f"unreadable npz ({err})") from err
    missing = [k for k in keys if k not in files]
    if missing:
        raise InputError(path, f"not a keypoints file: no {', '.join(missing)} (has {', '.join(files)})")
    pose = arrays["pose"]
    if pose.ndim != 3 or pose.shape[1:] != (3, N_137):
        raise InputError(path, f"pose has shape {pose.shape}, expected [T, 3, {N_137}]")
    return arrays


def load_keep(outliers_path, n_frames, pose_path):
    """keep [T] bool of an outliers npz, checked to have one entry per frame of ``pose_path``'s pose."""
    try:
        with np.load(outliers_path) as z:
            keep = z["keep"].astype(bool)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(outliers_path, f"unreadable outliers file ({err})") from err
    if keep.shape != (n_frames,):
        raise InputError(outliers_path, f"keep has shape {keep.shape}, {pose_path} has {n_frames} frames")
    return keep


def outlier_reasons(pose, valid=None, outlier_px=3.0):
    """pose [T, 3, 137] (x px, y px, conf), valid [T] bool or None -> reason int8 [T] (codes of REASONS)."""
    pose = np.asarray(pose)
    x, y = pose[:, 0, KEEP_122], pose[:, 1, KEEP_122]
    undetected = ((x <= outlier_px) & (y <= outlier_px)) | ~np.isfinite(x) | ~np.isfinite(y)
    no_person = ~(pose[:, :2] != 0).any(axis=(1, 2))
    if valid is not None:
        no_person |= ~np.asarray(valid, dtype=bool)
    reason = np.where(undetected.any(axis=1), UNDETECTED_POINT, KEPT).astype(np.int8)
    reason[no_person] = NO_PERSON
    return reason


def reason_counts(reason):
    """{name: number of frames} for every reason, kept included."""
    counts = np.bincount(np.asarray(reason, dtype=np.int64), minlength=len(REASONS))
    return {name: int(c) for name, c in zip(REASONS, counts, strict=True)}


def remove_outliers(keypoints_path, out_path, outlier_px=3.0):
    """The remove_outliers step: keypoints npz -> outliers npz (keep bool [T], reason int8 [T], reasons str).

    Returns the per-reason frame counts.  The keypoints file is only read."""
    arrays = load_pose_file(keypoints_path, ("pose", "valid"))
    pose, valid = arrays["pose"], arrays["valid"]
    if valid.shape != pose.shape[:1]:
        raise InputError(keypoints_path, f"valid has shape {valid.shape}, pose has {len(pose)} frames")
    reason = outlier_reasons(pose, valid, outlier_px)
    keep = reason == KEPT
    save_npz(out_path, keep=keep, reason=reason, reasons=np.array(REASONS), outlier_px=float(outlier_px))
    counts = reason_counts(reason)
    log.info("%s: %d frames, kept %d; dropped %d no_person (no complete person: body, face, both hands), "
             "%d undetected_point (a kept point at x <= %g and y <= %g px)", keypoints_path, len(reason),
             counts["kept"], counts["no_person"], counts["undetected_point"], outlier_px, outlier_px)
    if len(reason) and not keep.any():
        log.warning("%s: no frame is kept: this video will give no clips", keypoints_path)
    return counts


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


def rescale_shoulders(keypoints_path, outliers_path, out_path, enabled=True, reference_px=331.0850066245443):
    """The rescale_shoulders step -> rescaled npz (pose, factor, shoulder_px, reference_px, enabled, fps).

    Returns {"factor", "shoulder_px", "kept_frames"}.  Inputs are only read."""
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
    save_npz(out_path, pose=rescale_pose(pose, factor), factor=factor, shoulder_px=shoulder_px,
             reference_px=float(reference_px), enabled=bool(enabled), fps=float(arrays["fps"]))
    log.info("%s: mean shoulder width %.2f px over %d kept frames; rescaling %s: x, y multiplied by %.6f",
             keypoints_path, shoulder_px, int(keep.sum()), "enabled" if enabled else "disabled", factor)
    return {"factor": factor, "shoulder_px": shoulder_px, "kept_frames": int(keep.sum())}
