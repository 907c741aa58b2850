"""sdt.dataset.mediapipe_map: MediaPipe Holistic -> the 137-point layout, on real MediaPipe results and on fakes.

Real photos: resources/messi5.jpg (a frontal person, both arms out: the person's right side is on the image's
left; face ~30 px) and matplotlib's grace_hopper.jpg (a large frontal face with open eyes, no hands).
"""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from matplotlib import cbook
from matplotlib.path import Path as Polygon
from mediapipe.python.solutions import holistic

from sdt.dataset.mediapipe_map import BODY25_FROM_POSE, holistic_to_137

FACE0 = 25  # 137-index of face point 0
NOSE_TIP = 55  # face point 30


def run_holistic(path):
    img = cv2.imread(str(path))
    h, w = img.shape[:2]
    with holistic.Holistic(static_image_mode=True, model_complexity=1, refine_face_landmarks=True) as hol:
        results = hol.process(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    pose, found = holistic_to_137(results, w, h)
    return pose, found, w, h


@pytest.fixture(scope="module")
def messi(messi_photo):
    return run_holistic(messi_photo)


@pytest.fixture(scope="module")
def hopper():
    return run_holistic(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def face(pose):
    """[70, 2] face points (x, y)."""
    return pose[:2, FACE0:FACE0 + 70].T


# ---- real photos --------------------------------------------------------------------------------

def test_photo_all_parts_found_with_confidences(messi):
    pose, found, w, h = messi
    assert pose.shape == (3, 137) and pose.dtype == np.float32
    assert found.tolist() == [True, True, True, True]
    upper = [0, 1, 2, 3, 4, 5, 6, 7, 15, 16]
    assert (pose[2, upper] > 0.5).all() and (pose[2, :25] <= 1).all()
    assert (pose[2, 25:] == 1.0).all()  # detected face and hand points
    assert (pose[0, 25:] > 0).all() and (pose[0, 25:] < w).all() and (pose[1, 25:] > 0).all()
    assert (pose[1, 25:] < h).all()
    np.testing.assert_allclose(pose[:2, 1], (pose[:2, 2] + pose[:2, 5]) / 2, atol=1e-3)  # neck


def test_person_right_side_is_image_left(messi):
    pose = messi[0]
    x = pose[0]
    for right, left in [(2, 5), (3, 6), (4, 7), (15, 16)]:  # shoulder, elbow, wrist, eye
        assert x[right] < x[left], (right, left)
    assert x[4] < x[3] < x[2] < x[1] < x[5] < x[6] < x[7]  # arms stretched out sideways


def test_hands_sit_at_their_own_wrists(messi):
    pose = messi[0]
    xy = pose[:2].T
    for hand, own, other in [(slice(116, 137), 4, 7), (slice(95, 116), 7, 4)]:
        pts = xy[hand]
        assert np.linalg.norm(pts[0] - xy[own]) < 10  # hand landmark 0 is the wrist
        assert (np.linalg.norm(pts - xy[own], axis=1) < np.linalg.norm(pts - xy[other], axis=1)).all()
        assert np.linalg.norm(pts - xy[own], axis=1).max() < 60


def test_face_points_in_ibug_order_on_photo(messi):
    f = face(messi[0])
    x, y = f[:, 0], f[:, 1]
    assert x[0] < x[8] < x[16]  # jaw from the person's right to left
    assert y[8] > y[0] + 10 and y[8] > y[16] + 10  # chin below the ends of the jaw (the head is tilted)
    r_eye, l_eye = f[36:42].mean(axis=0), f[42:48].mean(axis=0)
    assert r_eye[0] < l_eye[0] and x[36] < x[39] < x[42] < x[45]
    assert r_eye[0] < messi[0][0, NOSE_TIP] < l_eye[0]  # nose tip between the eyes, below them
    assert messi[0][1, NOSE_TIP] > max(r_eye[1], l_eye[1])
    assert y[27] < y[30] < y[33] < y[51] < y[62] < y[66] < y[57]  # down the midline, inner lips 62 over 66
    assert y[17:22].mean() < y[36:42].min() and y[22:27].mean() < y[42:48].min()  # brows above eyes
    assert x[48] < x[62] < x[54] and x[48] < x[66] < x[54]  # mouth corners: right on the image left
    # the right eye is squinting (1 px tall here): its pupil lies on the lid line, so check the eye box
    for pupil, eye in [(68, f[36:42]), (69, f[42:48])]:
        assert eye[:, 0].min() < x[pupil] < eye[:, 0].max()
        assert eye[:, 1].min() - 1 < y[pupil] < eye[:, 1].max() + 1


def test_face_contours_run_in_order_on_frontal_face(hopper):
    pose, found = hopper[:2]
    assert found[:2].all()
    f = face(pose)
    x, y = f[:, 0], f[:, 1]
    inc = lambda v: bool((np.diff(v) > 0).all())  # noqa: E731
    assert inc(x[0:17]) and inc(y[0:9]) and inc(-y[8:17])  # jaw: right ear -> chin -> left ear
    assert inc(x[17:22]) and inc(x[22:27]) and x[21] < x[22]  # brows, outer -> inner, inner -> outer
    assert inc(y[27:31]) and inc(x[31:36])  # bridge down to the tip, base right -> left
    assert inc(x[36:40]) and inc(-x[[39, 40, 41, 36]])  # right eye clockwise
    assert inc(x[42:46]) and inc(-x[[45, 46, 47, 42]])  # left eye clockwise
    assert y[37] < y[41] and y[38] < y[40] and y[43] < y[47] and y[44] < y[46]  # upper lids above lower
    assert inc(x[48:55]) and inc(-x[[54, 55, 56, 57, 58, 59, 48]])  # outer lips clockwise
    assert inc(x[60:65]) and inc(-x[[64, 65, 66, 67, 60]])  # inner lips clockwise
    assert y[51] < y[62] <= y[66] + 1 < y[57] + 1  # closed mouth: inner lips meet
    assert Polygon(f[36:42]).contains_point(f[68]) and Polygon(f[42:48]).contains_point(f[69])
    assert not Polygon(f[36:42]).contains_point(f[69])


# ---- fakes --------------------------------------------------------------------------------------

def landmarks(n, vis=None):
    """A fake landmark list: point i at (i / 1000, 0.5 + i / 2000), visibility vis(i)."""
    return SimpleNamespace(landmark=[SimpleNamespace(x=i / 1000, y=0.5 + i / 2000, z=0.0,
                                                     visibility=vis(i) if vis else 0.0) for i in range(n)])


def fake_results(pose=None, face=None, left=None, right=None):
    return SimpleNamespace(pose_landmarks=pose, face_landmarks=face, left_hand_landmarks=left,
                           right_hand_landmarks=right)


def test_no_person_gives_zeros():
    pose, found = holistic_to_137(fake_results(), 1280, 720)
    assert pose.shape == (3, 137) and pose.dtype == np.float32 and not pose.any()
    assert found.dtype == bool and not found.any()


def test_body_only_follows_the_spec_table():
    w, h = 1000, 2000
    pose, found = holistic_to_137(fake_results(pose=landmarks(33, vis=lambda i: 0.5 + i / 100)), w, h)
    assert found.tolist() == [True, False, False, False]
    assert not pose[:, 25:].any()  # face and hands undetected
    singles = {0: 0, 2: 12, 3: 14, 4: 16, 5: 11, 6: 13, 7: 15, 9: 24, 10: 26, 11: 28, 12: 23, 13: 25, 14: 27,
               15: 5, 16: 2, 17: 8, 18: 7, 19: 31, 20: 31, 21: 29, 22: 32, 23: 32, 24: 30}
    for b, m in singles.items():
        np.testing.assert_allclose(pose[:, b], [m / 1000 * w, (0.5 + m / 2000) * h, 0.5 + m / 100], rtol=1e-6)
    for b, (m1, m2) in {1: (11, 12), 8: (23, 24)}.items():  # neck, MidHip: midpoints, the smaller visibility
        np.testing.assert_allclose(pose[:, b], [(m1 + m2) / 2, (0.5 + (m1 + m2) / 4000) * h, 0.5 + m1 / 100],
                                   rtol=1e-6)
    assert len(BODY25_FROM_POSE) == 25


def test_face_points_come_from_mediapipes_own_contours():
    """Each iBUG contour takes its vertices from the face-mesh contour MediaPipe itself names for that part (the
    person's right eye from FACEMESH_RIGHT_EYE, ...), with the anchors everybody uses for the 68-point layout, and
    the pupils from the iris centres; checked on the output, whose x px is the mesh vertex index in this fake."""
    from mediapipe.python.solutions import face_mesh_connections as mesh

    pose, found = holistic_to_137(fake_results(face=landmarks(478)), 1000, 1000)
    assert found.tolist() == [False, True, False, False]
    vertex = np.round(face(pose)[:, 0]).astype(int)  # [70] the mesh vertex behind each face point

    def contour(name):
        return {i for edge in getattr(mesh, f"FACEMESH_{name}") for i in edge}

    parts = {"FACE_OVAL": range(0, 17), "RIGHT_EYEBROW": range(17, 22), "LEFT_EYEBROW": range(22, 27),
             "NOSE": [27, 28, 29, 30, 32, 33, 34], "RIGHT_EYE": range(36, 42), "LEFT_EYE": range(42, 48),
             "LIPS": range(48, 68)}
    for name, points in parts.items():
        assert set(vertex[list(points)]) <= contour(name), name
    anchors = {8: 152, 36: 33, 39: 133, 42: 362, 45: 263, 48: 61, 54: 291, 60: 78, 64: 308, 68: 468, 69: 473}
    assert {k: int(vertex[k]) for k in anchors} == anchors  # chin, eye and mouth corners, iris centres
    assert len(set(vertex)) == 70
    assert (pose[2, 25:95] == 1).all() and not pose[:, :25].any() and not pose[:, 95:].any()


def test_face_without_iris_refinement_puts_pupils_at_eye_centres():
    pose, _ = holistic_to_137(fake_results(face=landmarks(468)), 1000, 1000)
    f = face(pose)
    np.testing.assert_allclose(f[68], f[36:42].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(f[69], f[42:48].mean(axis=0), rtol=1e-5)


@pytest.mark.parametrize("side", ["left", "right"])
def test_one_hand_lands_in_its_own_slot(side):
    pose, found = holistic_to_137(fake_results(**{side: landmarks(21)}), 100, 100)
    own, other = (slice(95, 116), slice(116, 137)) if side == "left" else (slice(116, 137), slice(95, 116))
    assert found.tolist() == [False, False, side == "left", side == "right"]
    np.testing.assert_allclose(pose[0, own], np.arange(21) / 10, atol=1e-5)
    assert (pose[2, own] == 1).all() and not pose[:, other].any() and not pose[:, :95].any()
