"""A cut-out puppet made from one photo of a person: the sample speaker's body (see sdt.dataset.make_sample_video).

MediaPipe Holistic (static image mode, with its person segmentation) finds the person's pose, face mesh and hands
on the photo.  The frame is the photo's crop from the top of the head to below the hips, wide enough for both
arms, scaled to 1280x720 (the "stage").  The person is cut along the segmentation into layers:

- per arm an upper arm (a capsule from shoulder to elbow, round caps) and a forearm with its hand (capsule from
  elbow to wrist plus the hand's landmarks); the caps overlap, so a joint never opens a gap when rotated;
- the head (everything of the person above the chin, near the face), which nods and tilts about the neck and
  whose lower jaw moves down with the speech (a warp below the lips; the gap between the lips is darkened);
- the body: the rest of the person, drawn once over the background.

The background behind the person is inpainted (OpenCV Telea) from the photo, so an arm that moves uncovers the
crowd, not a hole.  A pose is the direction of each upper arm and forearm (degrees from straight down, positive
away from the body), the head's roll and the jaw's opening; :meth:`Rig.render` composites the layers for one pose.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from sdt.errors import InputError

SIZE = (1280, 720)  # stage width, height
ARMS = ("right", "left")  # the person's own sides
# pose landmarks: shoulder, elbow, wrist per side (MediaPipe's 12/14/16 are the person's right)
_JOINTS = {"right": (12, 14, 16), "left": (11, 13, 15)}
_HAND_ATTR = {"right": "right_hand_landmarks", "left": "left_hand_landmarks"}
ARM_RADIUS = 0.24  # capsule radius around an arm's bones, in shoulder widths
FEATHER = 1.5  # alpha edge blur (stage px)
MOUTH_DARK = 0.25  # brightness of the opened mouth's gap


@dataclass
class Pose:
    """One frame's pose.  Arm angles in degrees from straight down, positive away from the body's midline."""

    upper: tuple  # (right, left) upper-arm directions
    fore: tuple  # (right, left) forearm directions
    head: float = 0.0  # head roll about the neck, degrees (positive: towards the person's left shoulder)
    jaw: float = 0.0  # jaw opening, in face heights


def _holistic(photo):
    from mediapipe.python.solutions import holistic

    with holistic.Holistic(static_image_mode=True, model_complexity=1, refine_face_landmarks=True,
                           enable_segmentation=True) as model:
        return model.process(cv2.cvtColor(photo, cv2.COLOR_BGR2RGB))


def _px(landmarks, width, height):
    return np.array([(lm.x * width, lm.y * height) for lm in landmarks.landmark], dtype=np.float64)


def _capsule(shape, a, b, radius):
    """A filled capsule (segment a-b with round caps) as a float32 mask."""
    mask = np.zeros(shape, np.uint8)
    cv2.line(mask, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), 255, int(round(2 * radius)))
    for p in (a, b):
        cv2.circle(mask, tuple(np.round(p).astype(int)), int(round(radius)), 255, -1)
    return mask.astype(np.float32) / 255


def _layer(image, alpha):
    """(x0, y0, premultiplied float32 BGRA patch) of the bounding box of ``alpha`` > 0."""
    alpha = cv2.GaussianBlur(alpha, (0, 0), FEATHER) * (cv2.dilate(alpha, np.ones((5, 5))) > 0)
    ys, xs = np.nonzero(alpha > 1e-3)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    a = alpha[y0:y1, x0:x1, None]
    patch = np.concatenate([image[y0:y1, x0:x1].astype(np.float32) * a, a * 255], axis=2)
    return x0, y0, patch


def _rotation(angle_deg, pivot, to=None):
    """2x3 matrix: rotate by ``angle_deg`` (image coordinates, positive = clockwise on screen) about ``pivot``,
    then move the pivot to ``to``."""
    t = np.radians(angle_deg)
    c, s = np.cos(t), np.sin(t)
    r = np.array([[c, -s], [s, c]])
    to = pivot if to is None else to
    return np.hstack([r, (np.asarray(to) - r @ np.asarray(pivot))[:, None]])


def _angle_between(d0, d1):
    return np.degrees(np.arctan2(d0[0] * d1[1] - d0[1] * d1[0], d0 @ d1))


class Rig:
    """The layered person of one photo, on a 1280x720 stage."""

    def __init__(self, photo, source="photo", margin=0.06):
        h, w = photo.shape[:2]
        res = _holistic(photo)
        missing = [a for a in ("pose_landmarks", "face_landmarks", *_HAND_ATTR.values()) if
                   getattr(res, a) is None]
        if missing:
            raise InputError(source, f"MediaPipe Holistic does not find {', '.join(missing)} on the sample photo: "
                                      "it needs a person with face and both hands in view")
        pose, face = _px(res.pose_landmarks, w, h), _px(res.face_landmarks, w, h)
        hands = {s: _px(getattr(res, _HAND_ATTR[s]), w, h) for s in ARMS}
        self.crop = self._framing(pose, face, hands, (w, h), margin)
        x0, y0, cw, ch = self.crop
        scale = SIZE[0] / cw
        self.scale = scale

        def stage(p):
            return (np.asarray(p) - (x0, y0)) * scale

        image = cv2.resize(photo[y0:y0 + ch, x0:x0 + cw], SIZE, interpolation=cv2.INTER_CUBIC)
        seg = res.segmentation_mask[y0:y0 + ch, x0:x0 + cw]
        person = (cv2.resize(seg, SIZE, interpolation=cv2.INTER_LINEAR) > 0.5).astype(np.float32)
        self.background = self._background(photo, res.segmentation_mask, self.crop)
        self.pose, self.face = stage(pose), stage(face)
        self.hands = {s: stage(hands[s]) for s in ARMS}
        self.joints = {s: self.pose[list(_JOINTS[s])] for s in ARMS}  # (shoulder, elbow, wrist)
        self.shoulder_width = float(np.linalg.norm(self.pose[11] - self.pose[12]))
        self.midline_x = float(self.pose[[11, 12], 0].mean())
        self.neck = self.pose[[11, 12]].mean(axis=0)
        self.face_height = float(np.ptp(self.face[:, 1]))
        self._build_layers(image, person)

    @staticmethod
    def _framing(pose, face, hands, size, margin):
        """(x0, y0, width, height) of the 16:9 crop: head top to below the hips, both arms' reach in view."""
        w, h = size
        reach = {s: sum(np.linalg.norm(np.diff(pose[list(_JOINTS[s])], axis=0), axis=1)) for s in ARMS}
        reach = {s: reach[s] + np.ptp(hands[s], axis=0).max() for s in ARMS}
        left = min(pose[12, 0] - reach["right"], pose[11, 0] - reach["left"], hands["right"][:, 0].min())
        right = max(pose[12, 0] + reach["right"], pose[11, 0] + reach["left"], hands["left"][:, 0].max())
        top = face[:, 1].min() - 1.1 * np.ptp(face[:, 1])  # the face mesh ends at the brows: hair
        bottom = pose[[23, 24], 1].max() + 0.25 * np.ptp(face[:, 1])
        cw = (right - left) * (1 + 2 * margin)
        ch = max((bottom - top) * (1 + 2 * margin), cw * 9 / 16)
        cw = ch * 16 / 9
        if cw > w or ch > h:
            cw, ch = min(cw, w, h * 16 / 9), min(ch, h, w * 9 / 16)
        cx, cy = (left + right) / 2, (top + bottom) / 2
        x0 = int(round(np.clip(cx - cw / 2, 0, w - cw)))
        y0 = int(round(np.clip(cy - ch / 2, 0, h - ch)))
        return x0, y0, int(cw), int(round(int(cw) * 9 / 16))

    @staticmethod
    def _background(photo, seg, crop):
        """The photo with the person inpainted away, cropped and scaled to the stage."""
        hole = cv2.dilate((seg > 0.2).astype(np.uint8), np.ones((7, 7), np.uint8), iterations=2)
        plate = cv2.inpaint(photo, hole, 7, cv2.INPAINT_TELEA)
        x0, y0, cw, ch = crop
        return cv2.resize(plate[y0:y0 + ch, x0:x0 + cw], SIZE, interpolation=cv2.INTER_CUBIC)

    def _build_layers(self, image, person):
        shape = person.shape
        radius = ARM_RADIUS * self.shoulder_width
        self.layers = {}
        arms = np.zeros(shape, np.float32)
        for s in ARMS:
            sh, el, wr = self.joints[s]
            hand = np.zeros(shape, np.uint8)
            cv2.fillConvexPoly(hand, cv2.convexHull(np.round(self.hands[s]).astype(np.int32)), 255)
            hand = cv2.dilate(hand, np.ones((3, 3), np.uint8), iterations=int(radius / 4)).astype(np.float32) / 255
            upper = _capsule(shape, sh, el, radius) * person
            fore = np.maximum(_capsule(shape, el, wr, radius) * person, hand * np.maximum(person, 0.0))
            self.layers[f"{s}_upper"] = _layer(image, upper)
            self.layers[f"{s}_fore"] = _layer(image, fore)
            shoulder_cap = _capsule(shape, sh, sh, radius)
            arms = np.maximum(arms, np.maximum(upper, fore) * (1 - shoulder_cap))
        chin = self.face[152]
        head = person * (np.arange(shape[0])[:, None] < chin[1] + 0.02 * self.face_height)
        fx0, fx1 = self.face[:, 0].min(), self.face[:, 0].max()
        near = (np.arange(shape[1]) > fx0 - 0.6 * (fx1 - fx0)) & (np.arange(shape[1]) < fx1 + 0.6 * (fx1 - fx0))
        self.layers["head"] = _layer(image, head * near[None, :] * (1 - arms))
        body = person * (1 - arms)
        alpha = cv2.GaussianBlur(body, (0, 0), FEATHER)[..., None]
        self.base = (self.background * (1 - alpha) + image * alpha).astype(np.float32)

    def arm_transforms(self, pose):
        """Per arm: (upper-arm 2x3 matrix, forearm 2x3 matrix) that carry the photo's arm into ``pose``."""
        out = {}
        for k, s in enumerate(ARMS):
            sh, el, wr = self.joints[s]
            out_sign = -1.0 if s == "right" else 1.0  # away from the midline, in image x
            if np.sign(sh[0] - self.midline_x) not in (0, out_sign):
                out_sign = -out_sign  # the person faces away from the camera
            def direction(deg, sign=out_sign):
                t = np.radians(deg)
                return np.array([sign * np.sin(t), np.cos(t)])

            m_upper = _rotation(_angle_between(el - sh, direction(pose.upper[k])), sh)
            el_new = m_upper[:, :2] @ el + m_upper[:, 2]
            m_fore = _rotation(_angle_between(wr - el, direction(pose.fore[k])), el, el_new)
            out[s] = (m_upper, m_fore)
        return out

    def keypoints(self, pose):
        """Stage positions of (shoulder, elbow, wrist) per arm in ``pose``: what a detector should find."""
        out = {}
        for s, (mu, mf) in self.arm_transforms(pose).items():
            sh, el, wr = self.joints[s]
            out[s] = np.array([sh, mu[:, :2] @ el + mu[:, 2], mf[:, :2] @ wr + mf[:, 2]])
        return out

    def _jaw(self, patch, x0, y0, opening):
        """The head patch with the lower jaw moved down by ``opening`` px, the lips' gap darkened."""
        if opening <= 0.05:
            return patch
        f = self.face - (x0, y0)
        mouth_y = (f[13, 1] + f[14, 1]) / 2
        cx, half = (f[61, 0] + f[291, 0]) / 2, max(abs(f[288, 0] - f[58, 0]) / 2, 1.0)
        h, w = patch.shape[:2]
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        wx = np.clip(1.5 - np.abs(xs - cx) / half, 0, 1)  # full under the mouth, fading at the jaw's sides
        below = np.clip((ys - mouth_y) / opening, 0, 1)
        src_y = ys - opening * wx * below
        out = cv2.remap(patch, xs, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        mouth_w = np.clip(1.0 - np.abs(xs - cx) / (abs(f[291, 0] - f[61, 0]) / 2 + 1e-6), 0, 1) ** 0.5
        gap = np.clip(1 - np.abs(ys - mouth_y - opening / 2) / (opening / 2 + 0.5), 0, 1) * mouth_w
        out[..., :3] *= (1 - (1 - MOUTH_DARK) * gap)[..., None]
        return out

    def render(self, pose):
        """The stage for ``pose``: (720, 1280, 3) uint8 BGR."""
        frame = self.base.copy()
        x0, y0, patch = self.layers["head"]
        patch = self._jaw(patch, x0, y0, pose.jaw * self.face_height)
        _paste(frame, patch, _rotation(pose.head, self.neck), x0, y0)
        for s, (mu, mf) in self.arm_transforms(pose).items():
            _paste(frame, self.layers[f"{s}_upper"][2], mu, *self.layers[f"{s}_upper"][:2])
            _paste(frame, self.layers[f"{s}_fore"][2], mf, *self.layers[f"{s}_fore"][:2])
        return np.clip(frame, 0, 255).astype(np.uint8)

    def rest_pose(self):
        """The photo's own pose (every transform the identity)."""
        up, fo = [], []
        for s in ARMS:
            sh, el, wr = self.joints[s]
            sign = -1.0 if s == "right" else 1.0
            up.append(float(np.degrees(np.arctan2(sign * (el - sh)[0], (el - sh)[1]))))
            fo.append(float(np.degrees(np.arctan2(sign * (wr - el)[0], (wr - el)[1]))))
        return Pose(tuple(up), tuple(fo))


def _paste(frame, patch, matrix, x0, y0):
    """Alpha-blend the premultiplied BGRA ``patch`` (at stage position x0, y0) moved by ``matrix`` into ``frame``."""
    h, w = patch.shape[:2]
    m = matrix.copy()
    m[:, 2] += m[:, :2] @ (x0, y0)  # patch coordinates -> stage
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64) @ m[:, :2].T + m[:, 2]
    bx0, by0 = np.floor(corners.min(axis=0)).astype(int)
    bx1, by1 = np.ceil(corners.max(axis=0)).astype(int) + 1
    bx0, by0 = max(bx0, 0), max(by0, 0)
    bx1, by1 = min(bx1, frame.shape[1]), min(by1, frame.shape[0])
    if bx1 <= bx0 or by1 <= by0:
        return
    m[:, 2] -= (bx0, by0)
    out = cv2.warpAffine(patch, m, (bx1 - bx0, by1 - by0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = out[..., 3:] / 255
    region = frame[by0:by1, bx0:bx1]
    region *= 1 - alpha
    region += out[..., :3]
