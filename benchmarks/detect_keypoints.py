"""Benchmark: keypoint detection (decode + MediaPipe Holistic + mapping) against MediaPipe's own ``process()`` rate
on the same frames already decoded in memory, measured in one run.

    python benchmarks/detect_keypoints.py [--frames 150] [--reps 2] [--video VIDEO.mp4]

Builds a 1280x720 clip from resources/messi5.jpg (letterboxed, drifting a few px per frame so tracking has real work)
as JPEG frames + meta.json like extract_frames (or, with --video, extracts that video's frames with
sdt.dataset.extract_frames).  Then, alternately --reps times: sdt.dataset.detect_keypoints.detect_video_frames on the
folder (the rule's work: JPEG decode in a reader thread + tracking-mode Holistic + 137-point mapping), and a fresh
Holistic's ``process()`` alone over the same frames decoded beforehand into memory.  Each timing has its model load
and first frame (timed on a one-frame run) taken out; the best of the repetitions is reported, by wall and by CPU
time.  The pipeline's rate over ``process()``'s is what this stage can still gain: 1.0 is the detector's own limit.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rates import BestOf, Clock, machine_line  # noqa: E402

from sdt.dataset.detect_keypoints import MediaPipeDetector, detect_video_frames, iter_images, list_frames  # noqa: E402
from sdt.dataset.extract_frames import extract_frames  # noqa: E402

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


def process_only(images):
    """MediaPipe Holistic's process() alone (tracking mode, as the rule runs it) over decoded RGB frames."""
    det = MediaPipeDetector()
    try:
        for image in images:
            det._holistic.process(image)
    finally:
        det.close()


def timed(fn, *args):
    with Clock() as clock:
        out = fn(*args)
    return out, clock


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--video", help="benchmark on the frames of this video instead of the synthetic clip")
    args = ap.parse_args()
    print(machine_line(), flush=True)
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as tmp:
        make_frames(one, 1)
        clip = Path(tmp) / "frames"
        if args.video:
            extract_frames(args.video, clip)
        else:
            clip.mkdir()
            make_frames(clip, args.frames)
        images = list(iter_images(list_frames(clip)[0]))
        first = [images[0]]
        pipeline, alone = BestOf(), BestOf()
        for _ in range(args.reps):
            fixed = timed(detect_video_frames, one, "mediapipe", False)[1]
            out, clock = timed(detect_video_frames, clip, "mediapipe", False)
            pipeline.wall, pipeline.cpu = min(pipeline.wall, clock.wall - fixed.wall), min(pipeline.cpu,
                                                                                          clock.cpu - fixed.cpu)
            fixed = timed(process_only, first)[1]
            clock = timed(process_only, images)[1]
            alone.wall, alone.cpu = min(alone.wall, clock.wall - fixed.wall), min(alone.cpu, clock.cpu - fixed.cpu)
    n = len(images) - 1  # the first frame is in the fixed part
    print(f"{len(images)} frames {out['width']}x{out['height']}; complete person on {out['valid'].sum()}/{len(images)}")
    print(f"{'':34s}{'frames/s':>10s}{'per CPU-s':>11s}")
    for name, best in (("detect_video_frames (the rule)", pipeline), ("MediaPipe process() alone, in memory", alone)):
        print(f"{name:34s}{n / best.wall:10.1f}{n / best.cpu:11.1f}")
    print(f"the rule at {alone.wall / pipeline.wall:.2f} of process()'s rate ({alone.cpu / pipeline.cpu:.2f} per "
          f"CPU-second); {pipeline.cpu / pipeline.wall:.2f} cores busy in the rule")
    print(machine_line().split("; ")[-1])


if __name__ == "__main__":
    main()
