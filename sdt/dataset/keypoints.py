"""Reading the per-video keypoint files of the dataset stages (detect_keypoints -> keypoints/, remove_outliers ->
outliers/, rescale_shoulders -> rescaled/), checked against their contract: pose [T, 3, 137] float32 (x px, y px,
confidence), keep [T] bool.  A file that breaks the contract is an InputError naming it."""

from pathlib import Path

from sdt.errors import InputError
from sdt.io import load_npz
from sdt.layout import N_137


def load_pose_file(path, keys=("pose",)):
    """Arrays ``keys`` of a keypoints/rescaled npz, with the pose checked to be [T, 3, 137]."""
    path = Path(path)
    arrays = load_npz(path, keys, what="keypoints file")
    pose = arrays["pose"]
    if pose.ndim != 3 or pose.shape[1:] != (3, N_137):
        raise InputError(path, f"pose has shape {pose.shape}, expected [T, 3, {N_137}]")
    return arrays


def load_keep(outliers_path, n_frames, pose_path):
    """keep [T] bool of an outliers npz, checked to have one entry per frame of ``pose_path``'s pose."""
    keep = load_npz(outliers_path, ("keep",), what="outliers file")["keep"].astype(bool)
    if keep.shape != (n_frames,):
        raise InputError(outliers_path, f"keep has shape {keep.shape}, {pose_path} has {n_frames} frames")
    return keep
