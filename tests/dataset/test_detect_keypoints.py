"""sdt.dataset.detect_keypoints: detection over a folder of frames (real MediaPipe, frames made at test
time from the photo)."""

import importlib.util
import json
import sys

import cv2
import numpy as np
import pytest

from sdt.dataset.detect_keypoints import (
    OPENPOSE_HELP,
    detect_keypoints,
    detect_video_frames,
    list_frames,
    openpose_to_137,
    redetect_incomplete,
)
from sdt.errors import InputError


def load_benchmark(repo):
    """benchmarks/detect_keypoints.py: its make_frames writes letterboxed 1280x720 frames of the photo."""
    spec = importlib.util.spec_from_file_location("bench_detect", repo / "benchmarks" / "detect_keypoints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def frames_dir(repo, messi_photo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    load_benchmark(repo).make_frames(folder, 5, photo=messi_photo, fps=15)
    return folder


def blank_frames(folder, n, size=(320, 240)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:06d}.jpg"), np.full((size[1], size[0], 3), 127, np.uint8))
    meta = {"fps": 15, "width": size[0], "height": size[1], "n_frames": n}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def test_detects_every_frame_and_saves(frames_dir, tmp_path):
    out = tmp_path / "kp" / "video.npz"
    arrays = detect_keypoints(frames_dir, out, fps=15, progress=False)
    with np.load(out) as z:
        assert sorted(z.files) == ["detector", "found", "fps", "frame_change", "height", "pose", "redetected",
                                   "valid", "width"]
        assert z["frame_change"].shape == (5,) and z["frame_change"][0] == 0  # the picture check (cuts)
        assert (z["frame_change"][1:] > 0).all()  # the photo shifts a few px every frame
        assert z["pose"].shape == (5, 3, 137) and z["pose"].dtype == np.float32
        assert z["found"].shape == (5, 4) and z["found"].dtype == bool and z["valid"].shape == (5,)
        assert (float(z["fps"]), int(z["width"]), int(z["height"]), str(z["detector"])) == (15.0, 1280, 720,
                                                                                           "mediapipe")
        np.testing.assert_array_equal(z["pose"], arrays["pose"])
    assert arrays["valid"].all()
    pose = arrays["pose"]
    assert (pose[:, 0, 4] < pose[:, 0, 7]).all()  # right wrist on the image left in every frame
    assert (np.abs(np.diff(pose[:, 0, 1])) > 1).all()  # the neck follows the shifting photo
    assert (pose[:, 0, 25:] > 0).all() and (pose[:, 0, 25:] < 1280).all()  # pixels of the 1280x720 frame



def test_redetection_fills_frames_where_tracking_lost_a_part(frames_dir):
    """The static second pass: a frame whose tracking result lacks the left hand gets MediaPipe's per-frame result
    (the photo's person, complete); a frame with no person at all and complete frames are left alone."""
    paths, _ = list_frames(frames_dir)
    tracked = detect_video_frames(frames_dir, fps=15, progress=False, redetect=False)
    pose, found = tracked["pose"].copy(), tracked["found"].copy()
    pose[1, :, 95:116], found[1, 2] = 0, False  # tracking "lost" the left hand on frame 1
    pose[3], found[3] = 0, False  # no person on frame 3
    redetected = redetect_incomplete(paths, pose, found)
    assert redetected.tolist() == [False, True, False, False, False]
    assert found[1].all() and not found[3].any() and not pose[3].any()
    np.testing.assert_array_equal(pose[[0, 2, 4]], tracked["pose"][[0, 2, 4]])
    # the per-frame result puts the left hand where tracking had it (within a few px on a 1280x720 frame)
    assert np.abs(pose[1, :2, 95:116] - tracked["pose"][1, :2, 95:116]).max() < 15

def test_empty_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no frames") as err:
        detect_video_frames(tmp_path, progress=False)
    assert str(tmp_path) in str(err.value)


def test_no_person_in_any_frame_is_an_input_error(tmp_path):
    folder = blank_frames(tmp_path / "blank", 3)
    with pytest.raises(InputError, match="no person found in any of 3 frames") as err:
        detect_video_frames(folder, progress=False)
    assert str(folder) in str(err.value)


def test_meta_mismatches_are_input_errors(tmp_path):
    folder = blank_frames(tmp_path / "f", 2)
    with pytest.raises(InputError, match="expected 25"):
        list_frames(folder, fps=25)
    (folder / "000002.jpg").write_bytes((folder / "000000.jpg").read_bytes())
    with pytest.raises(InputError, match="says 2 frames"):
        list_frames(folder)


def test_openpose_without_pyopenpose_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyopenpose", None)  # None in sys.modules makes the import fail
    monkeypatch.setitem(sys.modules, "openpose", None)
    folder = blank_frames(tmp_path / "f", 1)
    with pytest.raises(RuntimeError, match="BUILD_PYTHON=ON") as err:
        detect_video_frames(folder, detector="openpose", progress=False)
    assert "PYTHONPATH" in str(err.value) and str(err.value) == OPENPOSE_HELP


def test_unknown_detector_is_rejected(frames_dir):
    with pytest.raises(ValueError, match="unknown detector"):
        detect_video_frames(frames_dir, detector="yolo", progress=False)


def test_openpose_arrays_map_to_137():
    rng = np.random.default_rng(0)
    body = rng.uniform(1, 100, (2, 25, 3)).astype(np.float32)
    body[0, :, 2] = 0.1  # person 1 is the more confident one
    face = rng.uniform(1, 100, (2, 70, 3)).astype(np.float32)
    left, right = rng.uniform(1, 100, (2, 2, 21, 3)).astype(np.float32)
    right[1, :, :] = 0  # person 1's right hand undetected
    pose, found = openpose_to_137(body, face, [left, right])
    assert pose.shape == (3, 137) and found.tolist() == [True, True, True, False]
    np.testing.assert_array_equal(pose[:, :25], body[1].T)
    np.testing.assert_array_equal(pose[:, 25:95], face[1].T)
    np.testing.assert_array_equal(pose[:, 95:116], left[1].T)
    assert not pose[:, 116:].any()
    empty, none_found = openpose_to_137(None, None, None)
    assert empty.shape == (3, 137) and not empty.any() and not none_found.any()
