"""Rule remove_outliers: a video's keypoints -> which frames to keep (docs/dataset.md §6, step 4).

Every frame gets a reason code, 0 = kept.  A frame without a complete person (``valid`` False in the keypoints file:
body, face or a hand not found; or all 137 points at 0, 0) is ``no_person`` (1).  Otherwise it is ``undetected_point``
(2) when any of the KEEP_122 points (the 121 model points plus the neck, which every model point is made relative to)
has x <= outlier_px and y <= outlier_px, which is how a detector writes a missing point (0, 0); a non-finite
coordinate counts as undetected too.

A frame that would be kept is ``cut`` (3) when the neck or a shoulder (137-points 1, 2, 5) moved more than
``cut_jump`` shoulder widths since the frame before, or the shoulder width changed by more than a factor
exp(``cut_zoom``): a hard cut to another framing, or the detector's person switching to somebody else (MediaPipe
follows one person; with two in view it may jump between them).  Only pairs of consecutive frames where both have
the neck and both shoulders are compared; a gap of frames without them is an outlier run already.  Marking the
first frame after the jump is enough: every 64-frame window across the jump holds it, so no clip spans a cut.
The picture check: also a cut when the keypoints file has ``frame_change`` (detect_keypoints: the mean grey
difference of 32x18 thumbnails of consecutive frames, 0-255) above ``cut_picture``, on any frame.  MediaPipe's
tracking smooths its landmarks over several frames, so a cut that mostly zooms moves the shoulders too little from
one frame to the next; the picture changes at once.  Measured (docs/dataset.md §9a): on the sample speaker's 1980
frames the largest jump is 0.11 shoulder widths, the largest width change 0.12 (log), the largest picture change
3.9 (fast strokes), against defaults 0.25, 0.25 and 12; the smallest made-up framing cut changes the picture by 20.
"""

import logging

import numpy as np

from sdt.dataset.keypoints import load_pose_file
from sdt.errors import InputError
from sdt.io import load_npz, save_npz
from sdt.layout import KEEP_122

log = logging.getLogger(__name__)

REASONS = ("kept", "no_person", "undetected_point", "cut")  # index = reason code in the outliers file
KEPT, NO_PERSON, UNDETECTED_POINT, CUT = 0, 1, 2, 3
TRUNK = (1, 2, 5)  # 137-points Neck, RShoulder, LShoulder: they move slowly on a real body


def outlier_reasons(pose, valid=None, outlier_px=3.0, cut_jump=0.25, cut_zoom=0.25, frame_change=None,
                    cut_picture=12.0, cut=None):
    """pose [T, 3, 137] (x px, y px, conf), valid [T] bool or None -> reason int8 [T] (codes of REASONS).

    A frame dropped for a missing person or point keeps that reason even when it also follows a cut.  ``cut``
    [T] bool: :func:`cut_frames`' result when the caller has it already (then the cut_* arguments are unused)."""
    pose = np.asarray(pose)
    x, y = pose[:, 0, KEEP_122], pose[:, 1, KEEP_122]
    undetected = ((x <= outlier_px) & (y <= outlier_px)) | ~np.isfinite(x) | ~np.isfinite(y)
    no_person = ~(pose[:, :2] != 0).any(axis=(1, 2))
    if valid is not None:
        no_person |= ~np.asarray(valid, dtype=bool)
    reason = np.where(undetected.any(axis=1), UNDETECTED_POINT, KEPT).astype(np.int8)
    reason[no_person] = NO_PERSON
    if cut is None:
        cut = cut_frames(pose, cut_jump, cut_zoom, frame_change, cut_picture)
    reason[(reason == KEPT) & cut] = CUT
    return reason


def cut_frames(pose, cut_jump=0.25, cut_zoom=0.25, frame_change=None, cut_picture=12.0):
    """pose [T, 3, 137] -> bool [T]: frame t follows a jump of the trunk points no body makes in one frame.

    jump = the largest move of the neck or a shoulder from t - 1 to t over the smaller of the two shoulder widths;
    zoom = |log(width_t / width_{t-1})|; frame_change [T] or None: the picture check, off when cut_picture <= 0.
    cut_jump <= 0 turns the keypoint check off."""
    pose = np.asarray(pose, dtype=np.float64)
    cut = np.zeros(len(pose), dtype=bool)
    if frame_change is not None and cut_picture > 0:
        frame_change = np.asarray(frame_change, dtype=np.float64)
        if frame_change.shape != cut.shape:
            raise ValueError(f"frame_change has shape {frame_change.shape}, pose has {len(pose)} frames")
        cut |= frame_change > cut_picture
    if cut_jump <= 0 or len(pose) < 2:
        return cut
    xy = pose[:, :2, TRUNK]  # [T, 2, 3]
    found = (np.isfinite(xy).all(axis=1) & (xy != 0).any(axis=1)).all(axis=1)  # [T]
    width = np.hypot(*(xy[:, :, 1] - xy[:, :, 2]).T)  # [T]
    found &= width > 0
    pair = found[1:] & found[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        move = np.hypot(*(xy[1:] - xy[:-1]).transpose(1, 0, 2)).max(axis=1)  # [T-1] px
        jump = move / np.minimum(width[1:], width[:-1])
        zoom = np.abs(np.log(width[1:] / width[:-1]))
    cut[1:] |= pair & ((jump > cut_jump) | (zoom > cut_zoom))
    return cut


def reason_counts(reason):
    """{name: number of frames} for every reason, kept included."""
    counts = np.bincount(np.asarray(reason, dtype=np.int64), minlength=len(REASONS))
    return {name: int(c) for name, c in zip(REASONS, counts, strict=True)}


def remove_outliers(keypoints_path, out_path, outlier_px=3.0, cut_jump=0.25, cut_zoom=0.25, cut_picture=12.0):
    """The remove_outliers step: keypoints npz -> outliers npz (keep bool [T], reason int8 [T], reasons str).

    Returns the per-reason frame counts.  The keypoints file is only read."""
    arrays = load_pose_file(keypoints_path, ("pose", "valid"))
    pose, valid = arrays["pose"], arrays["valid"]
    if valid.shape != pose.shape[:1]:
        raise InputError(keypoints_path, f"valid has shape {valid.shape}, pose has {len(pose)} frames")
    # the picture change, where detect_keypoints measured it (not in keypoints written before it did)
    change = load_npz(keypoints_path, what="keypoints file", skip=("pose", "found", "valid")).get("frame_change")
    if change is not None and change.shape != valid.shape:
        raise InputError(keypoints_path, f"frame_change has shape {change.shape}, pose has {len(pose)} frames")
    cut = cut_frames(pose, cut_jump, cut_zoom, change, cut_picture)
    reason = outlier_reasons(pose, valid, outlier_px, cut=cut)
    keep = reason == KEPT
    # cut [T]: every detected jump, also on a frame dropped for another reason (rescale_shoulders' shots)
    save_npz(out_path, keep=keep, reason=reason, reasons=np.array(REASONS), outlier_px=float(outlier_px),
             cut=cut, cut_jump=float(cut_jump), cut_zoom=float(cut_zoom), cut_picture=float(cut_picture))
    counts = reason_counts(reason)
    log.info("%s: %d frames, kept %d; dropped %d no_person (no complete person: body, face, both hands), "
             "%d undetected_point (a kept point at x <= %g and y <= %g px), %d cut (neck/shoulders jumped > %g "
             "shoulder widths, the width changed > %g in log or the picture > %g)", keypoints_path, len(reason),
             counts["kept"],
             counts["no_person"], counts["undetected_point"], outlier_px, outlier_px, counts["cut"], cut_jump,
             cut_zoom, cut_picture)
    if cut.any():
        log.info("%s: %d cuts (%s), before frames %s", keypoints_path, int(cut.sum()),
                 "picture and keypoints" if change is not None else "keypoints only: no frame_change",
                 np.flatnonzero(cut).tolist())
    if len(reason) and not keep.any():
        log.warning("%s: no frame is kept: this video will give no clips", keypoints_path)
    return counts
