"""Keypoint layouts of SDT (docs/dataset.md §1): the 137-point OpenPose layout and the 121-point model layout.

137 = BODY_25 (0-24) + face 70 (25-94: iBUG 68 + two pupils) + left hand 21 (95-115) + right hand 21 (116-136).
"Left"/"right" are the person's own.  An undetected point is x = y = 0, confidence 0.
"""

import numpy as np

from models.contract import (  # noqa: F401  (the 121-point layout's home: the networks are built for it)
    M_BODY,
    M_FACE,
    M_LHAND,
    M_LIP_LOWER_INNER,
    M_LIP_UPPER_INNER,
    M_LWRIST,
    M_NOSE_TIP,
    M_RHAND,
    M_RWRIST,
    N_121,
)

N_137 = 137
FACE = slice(25, 95)
LHAND = slice(95, 116)
RHAND = slice(116, 137)

NECK = 1
R_SHOULDER, L_SHOULDER = 2, 5  # shoulder width = |p2 - p5| (docs/dataset.md §10)

# 137 -> 122: drop legs and ears; keep nose..LWrist, REye, LEye, face, hands.  Then neck-relative, drop neck -> 121.
KEEP_122 = np.r_[0:8, 15, 16, 25:137]
KEEP_121 = np.r_[0, 2:8, 15, 16, 25:137]  # the 137-indices of the 121 model points, in model order
assert len(KEEP_122) == 122 and len(KEEP_121) == N_121

# Parent of every 121-point in the hierarchical ("parted") representation; -1 = stays neck-relative.
PARENT_121 = np.full(N_121, -1, dtype=np.int64)
PARENT_121[M_FACE] = M_NOSE_TIP
PARENT_121[M_NOSE_TIP] = -1
PARENT_121[M_LHAND] = M_LWRIST
PARENT_121[M_RHAND] = M_RWRIST
PARENT_OR_SELF_121 = np.where(PARENT_121 >= 0, PARENT_121, np.arange(N_121))  # a point's parent, else itself

# Skeleton edges for drawing (137-indices), in the release's style: body, face contours, hands.
BODY_EDGES = [(0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (0, 15), (0, 16)]
_FACE_CHAINS = [range(0, 17), range(17, 22), range(22, 27), range(27, 31), range(31, 36), range(36, 42),
                range(42, 48), range(48, 60), range(60, 68)]
_FACE_CLOSED = {range(36, 42), range(42, 48), range(48, 60), range(60, 68)}
FACE_EDGES = []
for _c in _FACE_CHAINS:
    _ids = list(_c)
    FACE_EDGES += [(25 + a, 25 + b) for a, b in zip(_ids[:-1], _ids[1:], strict=True)]
    if _c in _FACE_CLOSED:
        FACE_EDGES.append((25 + _ids[-1], 25 + _ids[0]))
_HAND = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
         (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20)]
LHAND_EDGES = [(95 + a, 95 + b) for a, b in _HAND]
RHAND_EDGES = [(116 + a, 116 + b) for a, b in _HAND]
