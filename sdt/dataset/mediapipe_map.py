"""MediaPipe Holistic results -> one frame of the 137-point OpenPose layout (docs/dataset.md §1-2).

Pure functions on a results object (``pose_landmarks``, ``face_landmarks``, ``left_hand_landmarks``,
``right_hand_landmarks``; each None or a list with ``.landmark[i].x/.y`` normalised to the image), so tests
can feed fakes.  "Left"/"right" are the person's own throughout: MediaPipe's pose landmark 11 is the left
shoulder, face-mesh "RIGHT_EYE" (33, 133, ...) is the person's right eye, and the legacy Holistic solution's
``left_hand_landmarks`` is the hand at pose landmark 15 (left wrist); all three checked on
resources/messi5.jpg (tests/dataset/test_mediapipe_map.py), where the person's right side lies on the image's left.
"""

import numpy as np

from sdt.layout import FACE, LHAND, N_137, RHAND

# BODY_25 index -> pose landmark (a pair: their midpoint), docs/dataset.md §2.
BODY25_FROM_POSE = (
    0, (11, 12), 12, 14, 16, 11, 13, 15, (23, 24), 24, 26, 28, 23, 25, 27,  # nose .. LAnkle
    5, 2, 8, 7,  # REye, LEye, REar, LEar
    31, 31, 29, 32, 32, 30,  # LBigToe, LSmallToe, LHeel, RBigToe, RSmallToe, RHeel (one toe point per foot)
)
_BODY_A = np.array([p[0] if isinstance(p, tuple) else p for p in BODY25_FROM_POSE])
_BODY_B = np.array([p[1] if isinstance(p, tuple) else p for p in BODY25_FROM_POSE])

# iBUG 68 face point -> face-mesh vertex.  Chosen on the mesh's own contours (FACEMESH_FACE_OVAL, _LIPS,
# _*_EYE, _*_EYEBROW, _NOSE of mediapipe.python.solutions.face_mesh_connections) as the vertex closest to where
# the 68-point mean shape puts each point, measured on a frontal face (matplotlib's grace_hopper.jpg); the
# right-side choices are mirrored to the left (mesh mirror pairs such as 33/263, 61/291, 127/356) so the table
# is symmetric.  Image left/right below is for a frontal face.
FACE68_FROM_MESH = np.array([
    # 0-16 jaw: from the person's right (image left) at eye-corner height down to the chin (8, vertex 152), up
    127, 93, 132, 58, 136, 150, 176, 148, 152, 377, 400, 379, 365, 288, 361, 323, 356,
    # 17-21 right brow outer -> inner, 22-26 left brow inner -> outer (upper edge of the brow)
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # 27-30 nose bridge, between the eyes -> nose tip (30: vertex 4, the tip as seen from the front; vertex 1,
    # the most protruding point, projects almost onto the nostril line)
    168, 197, 5, 4,
    # 31-35 nose base, right nostril -> subnasale (33, vertex 2) -> left nostril
    75, 97, 2, 326, 305,
    # 36-41 right eye: outer corner, upper lid x2, inner corner, lower lid x2 (clockwise in the image)
    33, 160, 158, 133, 153, 144,
    # 42-47 left eye: inner corner, upper lid x2, outer corner, lower lid x2
    362, 385, 387, 263, 373, 380,
    # 48-59 outer lips: right corner, upper lip to the left corner (54), lower lip back (57: lower centre)
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    # 60-67 inner lips: right corner, upper (62: upper centre), left corner (64), lower (66: lower centre)
    78, 82, 13, 312, 308, 317, 14, 87,
])
PUPILS_FROM_MESH = np.array([468, 473])  # iris centres of the refined mesh: right (face point 68), left (69)
_EYES_68 = (slice(36, 42), slice(42, 48))
assert len(FACE68_FROM_MESH) == 68 and len(set(FACE68_FROM_MESH.tolist())) == 68


def _xy(landmark_list, width, height):
    """A landmark list -> [n, 2] float64 pixels."""
    return np.array([(lm.x * width, lm.y * height) for lm in landmark_list.landmark], dtype=np.float64)


def _body25(pose_lms, width, height):
    """33 pose landmarks -> [25, 3]; confidence = visibility (a midpoint takes the smaller of its two)."""
    p = np.array([(lm.x * width, lm.y * height, lm.visibility) for lm in pose_lms.landmark], dtype=np.float64)
    out = np.empty((25, 3))
    out[:, :2] = (p[_BODY_A, :2] + p[_BODY_B, :2]) / 2
    out[:, 2] = np.minimum(p[_BODY_A, 2], p[_BODY_B, 2])
    return out


def _face70(face_lms, width, height):
    """468 or 478 face-mesh landmarks -> [70, 3] (iBUG 68 + pupils), confidence 1.

    Without iris refinement (468 landmarks) a pupil falls back to the centre of its six eye points.
    """
    m = _xy(face_lms, width, height)
    out = np.ones((70, 3))
    out[:68, :2] = m[FACE68_FROM_MESH]
    if len(m) > PUPILS_FROM_MESH.max():
        out[68:, :2] = m[PUPILS_FROM_MESH]
    else:
        out[68:, :2] = [out[eye, :2].mean(axis=0) for eye in _EYES_68]
    return out


def _hand21(hand_lms, width, height):
    """21 hand landmarks (same order as OpenPose's hand) -> [21, 3], confidence 1."""
    out = np.ones((21, 3))
    out[:, :2] = _xy(hand_lms, width, height)
    return out


def holistic_to_137(results, width, height):
    """One Holistic result -> (pose [3, 137] float32: x px, y px, confidence; found [4] bool).

    ``found`` = (body, face, left hand, right hand) detected; a part not found stays x = y = confidence = 0.
    """
    pts = np.zeros((N_137, 3))
    found = np.zeros(4, dtype=bool)
    parts = (
        ("pose_landmarks", slice(0, 25), _body25),
        ("face_landmarks", FACE, _face70),
        ("left_hand_landmarks", LHAND, _hand21),
        ("right_hand_landmarks", RHAND, _hand21),
    )
    for k, (attr, where, convert) in enumerate(parts):
        lms = getattr(results, attr, None)
        if lms is not None and len(lms.landmark) > 0:
            pts[where] = convert(lms, width, height)
            found[k] = True
    return pts.T.astype(np.float32), found
