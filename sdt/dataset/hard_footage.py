"""Hard footage from the sample rig, made on the fly for the tests and the cut benchmark (docs/dataset.md §9a).

Real footage has hard cuts, zooms, a second person and a speaker who leaves the frame; the bundled sample speaker
has none of them.  These functions render such footage from the same layered photo (sdt.dataset.sample_rig), at
the clips' 15 fps and a reduced size (the stage, 1280x720, scaled by ``scale``), as the frames folder that
detect_keypoints reads (000000.jpg ..., meta.json).  Segments, in order, each a list of frames:

  ``framing``   the speaker gesturing (arms swaying, head rolling), the stage shifted by (dx, dy) stage widths and
                zoomed by ``zoom`` about its centre: two framings one after the other are a hard cut;
                ``jump_s``: the gesture clock jumps ahead first (a jump cut when the framing stays)
  ``away``      the inpainted background alone: the speaker has left the frame
  ``two``       two speakers side by side, the middle halves of two stages, gesturing out of phase

Nothing is written outside the given folder; the photo is only read.
"""

import json
from pathlib import Path

import cv2
import numpy as np

from sdt.constants import FPS
from sdt.dataset.sample_rig import SIZE, Pose


def gesture(rig, t, phase=0.0):
    """The rig's rest pose with the arms swinging (+-25 degrees at the elbows, 0.6 Hz) at time t (s)."""
    rest = rig.rest_pose()
    s = np.sin(2 * np.pi * 0.6 * t + phase)
    fore = (rest.fore[0] + 25 * s, rest.fore[1] - 25 * s)
    upper = (rest.upper[0] + 10 * s, rest.upper[1] - 10 * s)
    return Pose(upper, fore, head=4.0 * np.sin(2 * np.pi * 0.3 * t + phase), jaw=0.05 * (1 + s))


def reframe(image, dx=0.0, dy=0.0, zoom=1.0):
    """The image zoomed by ``zoom`` about its centre and shifted by (dx, dy) widths/heights; edges replicated."""
    h, w = image.shape[:2]
    m = np.float32([[zoom, 0, (1 - zoom) * w / 2 + dx * w], [0, zoom, (1 - zoom) * h / 2 + dy * h]])
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def side_by_side(left, right):
    """Two speakers next to each other: the middle halves of two stages (the speaker at full size) put together."""
    w = left.shape[1]
    return np.concatenate([left[:, w // 4: w // 4 + w // 2], right[:, w // 4: w // 4 + w // 2]], axis=1)


def render(rig, segments, scale=0.5):
    """segments: [(kind, n_frames, options)] -> list of BGR uint8 frames at the stage size times ``scale``.

    The gesture clock runs on across segments, so a cut is a change of framing, never of motion."""
    size = (int(SIZE[0] * scale), int(SIZE[1] * scale))
    frames, t = [], 0
    background = np.clip(rig.background, 0, 255).astype(np.uint8)  # the stage without the person
    for kind, n, opts in segments:
        opts = dict(opts)
        t += round(opts.pop("jump_s", 0.0) * FPS)  # a jump cut: the same framing, the gesture seconds later
        for _ in range(n):
            now = t / FPS
            if kind == "framing":
                image = reframe(rig.render(gesture(rig, now)), **opts)
            elif kind == "away":
                image = background.copy()
            elif kind == "two":
                image = side_by_side(rig.render(gesture(rig, now)), rig.render(gesture(rig, now, np.pi)))
            else:
                raise ValueError(f"unknown segment kind {kind!r}")
            frames.append(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
            t += 1
    return frames


def write_frames(frames, folder, fps=FPS):
    """The frames folder detect_keypoints reads: 000000.jpg ... and meta.json (fps, width, height, n_frames)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for k, image in enumerate(frames):
        cv2.imwrite(str(folder / f"{k:06d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    h, w = frames[0].shape[:2]
    (folder / "meta.json").write_text(json.dumps({"fps": float(fps), "width": w, "height": h,
                                                  "n_frames": len(frames)}))
    return folder
