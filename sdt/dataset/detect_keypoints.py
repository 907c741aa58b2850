"""Keypoint detection on a folder of extracted frames -> the 137-point keypoints file (docs/dataset.md §1, §8).

Frames: ``frames_dir/000000.jpg, 000001.jpg, ...`` (frame i at t = i / fps) plus ``meta.json`` {"fps", "width",
"height", "n_frames"}.  Output arrays: pose [T, 3, 137] float32 (x px, y px, confidence; undetected 0, 0, 0), found
[T, 4] bool (body, face, left hand, right hand), valid [T] bool (all four found), redetected [T] bool (keypoints from
the static second pass), fps, width, height, detector.  Detectors: MediaPipe Holistic (default, runs offline from the
wheel) or OpenPose (optional, natively the 137 layout: BODY_25 + face 70 + hands 21 + 21).
"""

import json
import logging
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from sdt.dataset.mediapipe_map import holistic_to_137
from sdt.errors import InputError
from sdt.io import save_npz
from sdt.layout import FACE, LHAND, N_137, RHAND

log = logging.getLogger(__name__)
DETECTORS = ("mediapipe", "openpose")
OPENPOSE_HELP = (
    "the 'openpose' detector needs OpenPose's Python API (pyopenpose), which is not importable here. "
    "Install it: build OpenPose (https://github.com/CMU-Perceptual-Computing-Lab/openpose) with "
    "`cmake -DBUILD_PYTHON=ON ..` and `make -j`, put the build's python folder (<openpose>/build/python, or the "
    "folder holding pyopenpose*.so) on PYTHONPATH, and set OPENPOSE_MODEL_FOLDER to <openpose>/models. "
    "Or use detector: mediapipe (the default)."
)


def list_frames(frames_dir, fps=None):
    """The frame paths in time order and the folder's meta (fps, width, height, n_frames), checked."""
    frames_dir = Path(frames_dir)
    if not frames_dir.is_dir():
        raise InputError(frames_dir, "not a folder of extracted frames")
    paths = sorted(frames_dir.glob("*.jpg"), key=lambda p: (len(p.stem), p.stem))  # 000000.jpg, 000001.jpg
    if not paths:
        raise InputError(frames_dir, "no frames (*.jpg) in this folder")
    meta_path = frames_dir / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if "fps" not in meta and fps is None:
        raise InputError(frames_dir, "meta.json with the frame rate is missing and no fps was given")
    if fps is not None and "fps" in meta and abs(float(meta["fps"]) - float(fps)) > 1e-3:
        raise InputError(meta_path, f"frames are at {meta['fps']} fps, expected {fps}")
    if meta.get("n_frames", len(paths)) != len(paths):
        raise InputError(frames_dir, f"meta.json says {meta['n_frames']} frames, the folder has {len(paths)}")
    meta.setdefault("fps", fps)
    return paths, meta


def _read_image(path, rgb):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(path, "cannot be read as an image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if rgb else img


def iter_images(paths, rgb=True, prefetch=4):
    """Yield the decoded frames in order; a reader thread decodes ahead (cv2 releases the GIL) meanwhile."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = deque(pool.submit(_read_image, p, rgb) for p in paths[:prefetch])
        for i in range(len(paths)):
            img = pending.popleft().result()
            if i + prefetch < len(paths):
                pending.append(pool.submit(_read_image, paths[i + prefetch], rgb))
            yield img


class MediaPipeDetector:
    """MediaPipe Holistic, in video (tracking) mode by default (frames must come in time order), or in static image
    mode (every frame on its own: slower, but it finds again a hand that tracking lost)."""

    rgb = True

    def __init__(self, static=False):
        try:
            from mediapipe.python.solutions import holistic
        except ImportError as e:
            raise RuntimeError(
                "MediaPipe is not installed: pip install 'mediapipe==0.10.21' 'protobuf<5'") from e
        # model_complexity 1 and the refined (iris) face model ship in the wheel; 0 and 2 need a download.
        self._holistic = holistic.Holistic(static_image_mode=static, model_complexity=1,
                                           refine_face_landmarks=True)

    def __call__(self, image):
        h, w = image.shape[:2]
        return holistic_to_137(self._holistic.process(image), w, h)

    def close(self):
        self._holistic.close()


def _import_pyopenpose():
    try:
        import pyopenpose as op
    except ImportError:
        try:
            from openpose import pyopenpose as op
        except ImportError as e:
            raise RuntimeError(OPENPOSE_HELP) from e
    return op


def openpose_to_137(pose_kp, face_kp, hand_kp):
    """OpenPose's per-person arrays -> (pose [3, 137] float32, found [4] bool) for the most confident person.

    pose_kp [P, 25, 3], face_kp [P, 70, 3], hand_kp = (left [P, 21, 3], right [P, 21, 3]); x, y px and
    confidence with 0 for undetected, already the 137 layout's order.  No person: all zeros.
    """
    pts = np.zeros((N_137, 3), dtype=np.float32)
    found = np.zeros(4, dtype=bool)
    if pose_kp is None or np.ndim(pose_kp) != 3 or len(pose_kp) == 0:
        return pts.T.copy(), found
    person = int(np.argmax(np.asarray(pose_kp)[:, :, 2].sum(axis=1)))
    parts = ((pose_kp, slice(0, 25)), (face_kp, FACE), (hand_kp[0] if hand_kp is not None else None, LHAND),
             (hand_kp[1] if hand_kp is not None else None, RHAND))
    for k, (arr, where) in enumerate(parts):
        if arr is not None and np.ndim(arr) == 3 and len(arr) > person:
            pts[where] = arr[person]
            found[k] = bool((pts[where, 2] > 0).any())
    return pts.T.copy(), found


class OpenPoseDetector:
    """OpenPose (BODY_25 + face + hands) through pyopenpose; models from $OPENPOSE_MODEL_FOLDER."""

    rgb = False  # OpenPose takes BGR like OpenCV

    def __init__(self):
        self._op = _import_pyopenpose()
        model_folder = os.environ.get("OPENPOSE_MODEL_FOLDER")
        if not model_folder or not Path(model_folder).is_dir():
            raise RuntimeError(f"OPENPOSE_MODEL_FOLDER={model_folder!r} is not a folder. {OPENPOSE_HELP}")
        self._wrapper = self._op.WrapperPython()
        self._wrapper.configure({"model_folder": model_folder, "model_pose": "BODY_25", "face": True,
                                 "hand": True})
        self._wrapper.start()

    def __call__(self, image):
        datum = self._op.Datum()
        datum.cvInputData = image
        batch = self._op.VectorDatum([datum]) if hasattr(self._op, "VectorDatum") else [datum]  # 1.7 vs older
        self._wrapper.emplaceAndPop(batch)
        return openpose_to_137(datum.poseKeypoints, datum.faceKeypoints, datum.handKeypoints)

    def close(self):
        self._wrapper.stop()


def make_detector(detector):
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}: choose one of {', '.join(DETECTORS)}")
    return MediaPipeDetector() if detector == "mediapipe" else OpenPoseDetector()


def redetect_incomplete(paths, pose, found):
    """Second pass of MediaPipe over the frames where tracking missed a part (body, face or a hand), each frame on
    its own (static image mode); a frame takes the new result when it finds more parts.  Tracking loses a hand on
    1-2 % of frames of a moving speaker (fast or blurred hands), and one such frame drops every 64-frame clip that
    holds it (up to 13 of them); static detection finds most of them again.  ``pose`` [T, 3, 137] and ``found``
    [T, 4] are updated in place; returns redetected [T] bool (the frames whose keypoints came from this pass)."""
    redetected = np.zeros(len(found), dtype=bool)
    todo = np.flatnonzero(~found.all(axis=1) & found.any(axis=1))  # frames without any person stay as they are
    if not len(todo):
        return redetected
    det = MediaPipeDetector(static=True)
    try:
        for t, image in zip(todo, iter_images([paths[i] for i in todo], rgb=det.rgb), strict=True):
            new_pose, new_found = det(image)
            if new_found.sum() > found[t].sum():
                pose[t], found[t], redetected[t] = new_pose, new_found, True
    finally:
        det.close()
    log.info("re-detection of %d frames with a missing part: %d improved, %d of them now complete", len(todo),
             redetected.sum(), found[redetected].all(axis=1).sum())
    return redetected


THUMB = (32, 18)  # the picture check's thumbnail: fine enough for a change of framing, too coarse for a moving hand


def thumbnail(image, rgb=True):
    """A frame -> its 32x18 grey thumbnail (float32), for the picture change between frames."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY if rgb else cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)


def detect_video_frames(frames_dir, detector="mediapipe", progress=True, fps=None, redetect=True):
    """Detect the 137 keypoints on every frame of ``frames_dir`` -> dict of arrays (the keypoints contract).

    ``fps`` is the expected frame rate (checked against meta.json; used if meta.json lacks it).  ``redetect``
    (MediaPipe only): a second pass in static image mode over frames where tracking missed a part
    (:func:`redetect_incomplete`).  Raises InputError if the folder has no frames or no person is found in any
    frame.
    """
    paths, meta = list_frames(frames_dir, fps)
    det = make_detector(detector)
    n = len(paths)
    pose = np.zeros((n, 3, N_137), dtype=np.float32)
    found = np.zeros((n, 4), dtype=bool)
    # frame_change[t]: mean |grey difference| (0-255) of the thumbnails of frames t - 1 and t (0 for the first):
    # remove_outliers' picture check for cuts (docs/dataset.md §9a)
    frame_change = np.zeros(n, dtype=np.float32)
    previous = None
    start = time.perf_counter()
    try:
        bar = tqdm(iter_images(paths, rgb=det.rgb), total=n, desc=f"detect {Path(frames_dir).name}",
                   unit="frame", disable=not progress)
        for t, image in enumerate(bar):
            if t == 0:
                height, width = image.shape[:2]
                if (meta.get("width", width), meta.get("height", height)) != (width, height):
                    raise InputError(paths[0], f"frame is {width}x{height}, meta.json says "
                                               f"{meta['width']}x{meta['height']}")
            pose[t], found[t] = det(image)
            thumb = thumbnail(image, det.rgb)
            if previous is not None:
                frame_change[t] = np.abs(thumb - previous).mean()
            previous = thumb
    finally:
        det.close()
    log.info("%s: %d frames detected with %s in %.1f s (%.1f frames/s)", frames_dir, n, detector,
             time.perf_counter() - start, n / max(time.perf_counter() - start, 1e-9))
    if not found.any():
        raise InputError(frames_dir, f"no person found in any of {n} frames")
    redetected = np.zeros(n, dtype=bool)
    if redetect and detector == "mediapipe":
        redetected = redetect_incomplete(paths, pose, found)
    # frames scaled down for detection (extract_frames): keypoints in the video's pixels; undetected stay 0, 0
    video_width, video_height = int(meta.get("video_width", width)), int(meta.get("video_height", height))
    if (video_width, video_height) != (width, height):
        pose[:, 0] *= video_width / width
        pose[:, 1] *= video_height / height
        log.info("%s: keypoints of %dx%d frames mapped to the video's %dx%d pixels", frames_dir, width, height,
                 video_width, video_height)
    return {"pose": pose, "found": found, "valid": found.all(axis=1), "redetected": redetected,
            "frame_change": frame_change,
            "fps": float(meta["fps"]), "width": video_width, "height": video_height, "detector": str(detector)}


def detect_keypoints(frames_dir, out_path, detector="mediapipe", fps=None, progress=True, redetect=True):
    """The detect_keypoints step: detect on every frame, save, log what was found; returns the arrays."""
    arrays = detect_video_frames(frames_dir, detector, progress=progress, fps=fps, redetect=redetect)
    save_npz(out_path, **arrays)
    found, n = arrays["found"], len(arrays["found"])
    log.info("%s: complete person (body, face, both hands) on %d of %d frames; found body %d, face %d, "
             "left hand %d, right hand %d", frames_dir, arrays["valid"].sum(), n, *found.sum(axis=0))
    return arrays
