"""Benchmark: MediaPipe Holistic keypoint detection speed on a 1280x720 clip, from JPEG frames.

    python benchmarks/detect_keypoints.py [--frames 150] [--detector mediapipe] [--video VIDEO.mp4]

Builds the clip from resources/messi5.jpg (letterboxed to 1280x720, drifting a few px per frame so tracking has real
work), writes it as JPEG frames + meta.json like extract_frames, runs sdt.dataset.detect_keypoints.detect_video_frames
in tracking mode and prints frames/s (JPEG decode + detection + mapping): end to end, and steady (the model load and
first frame, timed on a 1-frame run, taken out).  Target: >= 20 frames/s per process on 2 cores.
With --video, the frames are your video's instead (extracted by sdt.dataset.extract_frames at its own frame
rate; --frames is then ignored).  Run it on an otherwise idle machine: other processes halve the numbers.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from sdt.dataset.detect_keypoints import detect_video_frames
from sdt.dataset.extract_frames import extract_frames

PHOTO = Path(__file__).resolve().parents[1] / "resources" / "messi5.jpg"


def make_frames(folder, n, photo=PHOTO, size=(1280, 720), fps=15):
    """n letterboxed frames of the photo, shifted a few px per frame; JPEG quality 95 like ffmpeg -q:v 2."""
    img = cv2.imread(str(photo))
    w, h = size
    scaled = cv2.resize(img, (round(img.shape[1] * h / img.shape[0]), h), interpolation=cv2.INTER_AREA)
    margin = w - scaled.shape[1]
    for i in range(n):
        frame = np.zeros((h, w, 3), np.uint8)
        x = int(margin / 2 + margin / 3 * np.sin(2 * np.pi * i / 50))
        frame[:, x:x + scaled.shape[1]] = scaled
        cv2.imwrite(str(Path(folder) / f"{i:06d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    (Path(folder) / "meta.json").write_text(json.dumps({"fps": fps, "width": w, "height": h, "n_frames": n}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--detector", default="mediapipe")
    ap.add_argument("--video", help="benchmark on the frames of this video instead of the synthetic clip")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as tmp:
        make_frames(one, 1)
        clip = Path(tmp) / "frames"
        if args.video:
            extract_frames(args.video, clip)
        else:
            clip.mkdir()
            make_frames(clip, args.frames)
        fixed = _timed(detect_video_frames, one, args.detector, progress=False)[1]
        out, seconds = _timed(detect_video_frames, clip, args.detector, progress=False)
    n = len(out["valid"])
    print(f"{args.detector}: {n} frames {out['width']}x{out['height']} in {seconds:.2f} s: "
          f"{n / seconds:.1f} frames/s end to end, {(n - 1) / (seconds - fixed):.1f} frames/s steady "
          f"(model load + first frame {fixed:.2f} s); complete person on {out['valid'].sum()}/{n} frames")


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


if __name__ == "__main__":
    main()
