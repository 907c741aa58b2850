"""Rule remove_outliers: a video's keypoints -> which frames to keep (docs/dataset.md §6, step 4).

Every frame gets a reason code, 0 = kept.  A frame without a complete person (``valid`` False in the keypoints file:
body, face or a hand not found; or all 137 points at 0, 0) is ``no_person`` (1).  Otherwise it is ``undetected_point``
(2) when any of the KEEP_122 points (the 121 model points plus the neck, which every model point is made relative to)
has x <= outlier_px and y <= outlier_px, which is how a detector writes a missing point (0, 0); a non-finite
coordinate counts as undetected too.
"""

import logging

import numpy as np

from sdt.dataset.keypoints import load_pose_file
from sdt.errors import InputError
from sdt.io import save_npz
from sdt.layout import KEEP_122

log = logging.getLogger(__name__)

REASONS = ("kept", "no_person", "undetected_point")  # index = reason code in the outliers file
KEPT, NO_PERSON, UNDETECTED_POINT = 0, 1, 2


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
