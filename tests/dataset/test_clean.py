"""sdt.dataset.remove_outliers and rescale_shoulders: the outlier rule (each reason) and shoulder rescaling, on
synthetic keypoints made here."""

import hashlib
import logging

import numpy as np
import pytest

from sdt.dataset.remove_outliers import NO_PERSON, REASONS, UNDETECTED_POINT, outlier_reasons, remove_outliers
from sdt.dataset.rescale_shoulders import rescale_shoulders, shoulder_width
from sdt.errors import InputError
from sdt.io import save_npz

REFERENCE_PX = 331.0850066245443


def make_pose(n, widths=None, seed=0):
    """[n, 3, 137] float32: every point inside a 1280x720 frame, away from the origin; confidences in (0.5, 1).

    Shoulders (points 2 and 5) at y = 200, ``widths[t]`` px apart around x = 640, the neck (1) between them: a still
    trunk, so no frame is a cut."""
    rng = np.random.default_rng(seed)
    pose = np.empty((n, 3, 137), dtype=np.float32)
    pose[:, 0] = rng.uniform(50, 1200, (n, 137))
    pose[:, 1] = rng.uniform(50, 700, (n, 137))
    pose[:, 2] = rng.uniform(0.5, 1.0, (n, 137))
    widths = np.full(n, 200.0) if widths is None else np.asarray(widths, dtype=np.float64)
    pose[:, 0, 2], pose[:, 0, 5] = 640 - widths / 2, 640 + widths / 2
    pose[:, 1, 2] = pose[:, 1, 5] = 200
    pose[:, 0, 1], pose[:, 1, 1] = 640, 190
    return pose


def save_keypoints(path, pose, valid=None):
    valid = np.ones(len(pose), bool) if valid is None else valid
    save_npz(path, pose=pose, found=np.repeat(valid[:, None], 4, axis=1), valid=valid, fps=15.0, width=1280,
             height=720, detector="mediapipe")
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_complete_frames_are_kept():
    assert (outlier_reasons(make_pose(6), np.ones(6, bool)) == 0).all()


def test_no_person_reason():
    pose = make_pose(4)
    pose[2] = 0  # nothing detected at all
    valid = np.array([True, False, True, True])  # frame 1: e.g. a hand missing -> no complete person
    assert outlier_reasons(pose, valid).tolist() == [0, NO_PERSON, NO_PERSON, 0]
    assert outlier_reasons(pose).tolist() == [0, 0, NO_PERSON, 0]  # without `valid`, all-zero frames only


@pytest.mark.parametrize(
    ("point", "xy", "reason"),
    [
        (100, (0, 0), UNDETECTED_POINT),  # a left-hand point at the origin
        (1, (0, 0), UNDETECTED_POINT),  # the neck, which every model point is relative to
        (0, (0, 0), UNDETECTED_POINT),  # the nose
        (136, (1, 1), UNDETECTED_POINT),  # the last right-hand point
        (55, (3, 3), UNDETECTED_POINT),  # the bound is inclusive: x <= 3 and y <= 3
        (55, (-20, 2), UNDETECTED_POINT),  # off the image's top-left corner
        (55, (3.5, 0), 0),  # x above the bound
        (55, (0, 300), 0),  # a point on the left edge is a real point
        (10, (0, 0), 0),  # a knee: not one of the 122 kept points
        (17, (0, 0), 0),  # an ear: not kept either
        (4, (np.nan, 100), UNDETECTED_POINT),  # a non-finite coordinate is not a measurement
    ],
)
def test_undetected_point_reason(point, xy, reason):
    pose = make_pose(3)
    pose[1, :2, point] = xy
    assert outlier_reasons(pose, np.ones(3, bool)).tolist() == [0, reason, 0]


def test_outlier_px_and_priority():
    pose = make_pose(3)
    pose[:, :2, 30] = 8  # a face point at (8, 8)
    valid = np.array([True, True, False])
    assert outlier_reasons(pose, valid, outlier_px=3).tolist() == [0, 0, NO_PERSON]
    assert outlier_reasons(pose, valid, outlier_px=10).tolist() == [UNDETECTED_POINT, UNDETECTED_POINT, NO_PERSON]


def test_remove_outliers_writes_a_new_file(tmp_path, caplog):
    pose = make_pose(10)
    pose[3, :2, 120] = 0
    pose[4, :2, 7] = (1, 2)
    valid = np.ones(10, bool)
    valid[8] = False
    src = save_keypoints(tmp_path / "kp.npz", pose, valid)
    before = digest(src)
    out = tmp_path / "outliers" / "v.npz"
    with caplog.at_level(logging.INFO, logger="sdt.dataset.remove_outliers"):
        counts = remove_outliers(src, out, outlier_px=3)
    assert counts == {"kept": 7, "no_person": 1, "undetected_point": 2, "cut": 0}
    assert digest(src) == before
    with np.load(out) as z:
        assert z["keep"].dtype == bool and z["reason"].dtype == np.int8
        assert z["reason"].tolist() == [0, 0, 0, 2, 2, 0, 0, 0, 1, 0]
        assert z["keep"].tolist() == (z["reason"] == 0).tolist()
        assert tuple(z["reasons"].tolist()) == REASONS == ("kept", "no_person", "undetected_point", "cut")
    assert "kept 7" in caplog.text and "1 no_person" in caplog.text and "2 undetected_point" in caplog.text


def test_remove_outliers_bad_input_names_the_file(tmp_path):
    path = tmp_path / "kp.npz"
    save_npz(path, pose=make_pose(2))  # no `valid`
    with pytest.raises(InputError, match="keypoints file lacks valid") as err:
        remove_outliers(path, tmp_path / "o.npz")
    assert str(path) in str(err.value)
    save_npz(path, pose=np.zeros((2, 2, 137), np.float32), valid=np.ones(2, bool))
    with pytest.raises(InputError, match=r"expected \[T, 3, 137\]"):
        remove_outliers(path, tmp_path / "o.npz")
    assert not (tmp_path / "o.npz").exists()


def test_shoulder_width_over_kept_frames():
    pose = make_pose(4, widths=[100, 200, 1000, 150])
    assert shoulder_width(pose, [True, True, False, True]) == pytest.approx(150)
    assert np.isnan(shoulder_width(pose, [False] * 4))


@pytest.fixture
def chain(tmp_path):
    """keypoints + outliers files: widths 100 and 200 on kept frames, 1000 on the outlier frame."""
    pose = make_pose(5, widths=[100, 200, 1000, 100, 200])
    pose[2, :2, 60] = 0
    kp = save_keypoints(tmp_path / "kp.npz", pose)
    remove_outliers(kp, tmp_path / "outliers.npz", cut_jump=0)  # widths jumping 2x every frame: no cut check here
    return kp, tmp_path / "outliers.npz", pose


def test_rescale_to_reference_width(chain, tmp_path):
    kp, outliers, pose = chain
    before = (digest(kp), digest(outliers))
    out = tmp_path / "rescaled.npz"
    info = rescale_shoulders(kp, outliers, out, enabled=True, reference_px=REFERENCE_PX)
    assert info["shoulder_px"] == pytest.approx(150) and info["kept_frames"] == 4
    assert info["factor"] == pytest.approx(REFERENCE_PX / 150)
    with np.load(out) as z:
        new = z["pose"]
        assert new.dtype == np.float32 and new.shape == pose.shape
        assert float(z["factor"]) == pytest.approx(REFERENCE_PX / 150) and float(z["shoulder_px"]) == 150
        assert float(z["fps"]) == 15.0
    np.testing.assert_allclose(new[:, :2], pose[:, :2] * (REFERENCE_PX / 150), rtol=1e-6)
    np.testing.assert_array_equal(new[:, 2], pose[:, 2])  # confidences untouched
    assert shoulder_width(new, [True, True, False, True, True]) == pytest.approx(REFERENCE_PX, rel=1e-6)
    assert (digest(kp), digest(outliers)) == before  # inputs are only read


def test_rescale_disabled_keeps_pose(chain, tmp_path):
    kp, outliers, pose = chain
    info = rescale_shoulders(kp, outliers, tmp_path / "r.npz", enabled=False, reference_px=REFERENCE_PX)
    assert info["factor"] == 1.0 and info["shoulder_px"] == pytest.approx(150)  # still measured, for the log
    with np.load(tmp_path / "r.npz") as z:
        np.testing.assert_array_equal(z["pose"], pose)
        assert float(z["factor"]) == 1.0


def test_rescale_without_kept_frames_is_unscaled(tmp_path, caplog):
    pose = make_pose(3)
    kp = save_keypoints(tmp_path / "kp.npz", pose, valid=np.zeros(3, bool))
    remove_outliers(kp, tmp_path / "o.npz")
    with caplog.at_level(logging.WARNING, logger="sdt.dataset.remove_outliers"):
        info = rescale_shoulders(kp, tmp_path / "o.npz", tmp_path / "r.npz")
    assert info["factor"] == 1.0 and np.isnan(info["shoulder_px"])
    with np.load(tmp_path / "r.npz") as z:
        np.testing.assert_array_equal(z["pose"], pose)
        assert np.isnan(float(z["shoulder_px"]))
    assert "no kept frame" in caplog.text


def test_rescale_mismatched_outliers_names_the_file(chain, tmp_path):
    kp, _, _ = chain
    other = tmp_path / "short_outliers.npz"
    save_npz(other, keep=np.ones(3, bool))
    with pytest.raises(InputError, match="3,") as err:
        rescale_shoulders(kp, other, tmp_path / "r.npz")
    assert str(other) in str(err.value)
    assert not (tmp_path / "r.npz").exists()
