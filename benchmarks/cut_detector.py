"""Benchmark: the cut check of remove_outliers (sdt.dataset.remove_outliers.cut_frames) -- its false cuts on the
sample speaker's detections, its recall on made-up cuts rendered from the sample rig and detected by MediaPipe, the
switches of person it catches with two speakers in view, and its cost against detection, measured in one run.

    python benchmarks/cut_detector.py [--keypoints 'results/sample/keypoints/*.npz']
                                      [--videos 'results/sample/fps/*.mp4'] [--frames 15]

False cuts: every frame pair of the given keypoint files (the workflow's detections of the sample speaker; a fast
stroke must not count), with the picture change of the matching 15 fps videos (decoded here, thumbnails as
detect_keypoints makes them).  Made-up cuts: sdt.dataset.hard_footage renders a sequence of framings of the gesturing
speaker, --frames frames each (640x360, 15 fps): each change of framing is a cut (shift and zoom listed), and so is
a jump cut (same framing, the gesture 2 s later).  Then two speakers side by side for 60 frames: a switch is a frame
where MediaPipe's neck moves to the other half of the frame.  Cost: cut_frames' time per frame over
detect_video_frames' time per frame on the rendered frames (best of 3 for the cut check; detection once).
"""

import argparse
import glob
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rates import machine_line  # noqa: E402

from sdt.dataset.detect_keypoints import detect_video_frames, thumbnail  # noqa: E402
from sdt.dataset.hard_footage import render, write_frames  # noqa: E402
from sdt.dataset.remove_outliers import TRUNK, cut_frames  # noqa: E402
from sdt.dataset.sample_rig import Rig  # noqa: E402

PHOTO = Path(__file__).resolve().parents[1] / "resources" / "messi5.jpg"
# (dx, dy, zoom) of each framing after the first; the first is the stage as it is
FRAMINGS = [(0.1, 0.0, 1.0), (0.0, 0.0, 1.0), (0.0, 0.0, 1.2), (0.0, 0.0, 1.0), (0.05, 0.0, 1.0), (0.0, 0.0, 1.0),
            (0.2, 0.05, 1.3), (0.0, 0.0, 1.0), (-0.1, 0.0, 1.1), (0.0, 0.0, 1.0), (0.0, 0.0, 1.5), (0.0, 0.0, 1.0),
            (0.0, 0.1, 1.0), (0.0, 0.0, 1.0), (0.03, 0.0, 1.05), (0.0, 0.0, 1.0), (-0.2, 0.0, 1.2), (0.0, 0.0, 1.0)]
JUMP_CUTS = 6


def trunk_motion(pose):
    """Largest neck/shoulder move per frame pair over the shoulder width, and |log width ratio|, where both seen."""
    xy = pose[:, :2][:, :, TRUNK].astype(np.float64)
    w = np.hypot(*(xy[:, :, 1] - xy[:, :, 2]).T)
    seen = (xy != 0).any(axis=1).all(axis=1) & (w > 0)
    pair = seen[1:] & seen[:-1]
    jump = np.hypot(*(xy[1:] - xy[:-1]).transpose(1, 0, 2)).max(axis=1) / np.minimum(w[1:], w[:-1])
    zoom = np.abs(np.log(np.where(pair, w[1:] / np.where(pair, w[:-1], 1), 1)))
    return jump[pair], zoom[pair]


def video_change(path):
    """frame_change [T] of a video, as detect_keypoints measures it on its frames."""
    cap, out, prev = cv2.VideoCapture(str(path)), [], None
    while True:
        ok, image = cap.read()
        if not ok:
            break
        thumb = thumbnail(image, rgb=False)
        out.append(0.0 if prev is None else float(np.abs(thumb - prev).mean()))
        prev = thumb
    return np.array(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keypoints", default="results/sample/keypoints/*.npz")
    ap.add_argument("--videos", default="results/sample/fps/*.mp4")
    ap.add_argument("--frames", type=int, default=15)
    ap.add_argument("--save", help="also save the rendered footage's detections (npz) here")
    args = ap.parse_args()
    print(machine_line())
    files = sorted(glob.glob(args.keypoints))
    videos = {Path(v).stem: v for v in glob.glob(args.videos)}
    total, false = 0, 0
    for f in files:
        pose = np.load(f)["pose"]
        change = video_change(videos[Path(f).stem]) if Path(f).stem in videos else None
        if change is not None and len(change) != len(pose):
            change = None
        cut = cut_frames(pose, frame_change=change)
        if change is not None:
            print(f"{Path(f).name}: largest picture change {change.max():.2f} (99.9 %: "
                  f"{np.percentile(change, 99.9):.2f})")
        jump, zoom = trunk_motion(pose)
        total, false = total + len(pose), false + int(cut.sum())
        print(f"{Path(f).name}: {len(pose)} frames, {int(cut.sum())} cuts; largest jump {jump.max():.3f} shoulder "
              f"widths (99.9 %: {np.percentile(jump, 99.9):.3f}), largest |log width ratio| {zoom.max():.3f}")
    print(f"false cuts on the sample: {false} of {total} frames" if files else "no sample keypoints given")

    rig = Rig(cv2.imread(str(PHOTO)))
    n = args.frames
    segments = [("framing", n, {})]
    kinds = []
    for dx, dy, z in FRAMINGS:
        segments.append(("framing", n, {"dx": dx, "dy": dy, "zoom": z}))
        kinds.append(f"shift ({dx:+.2f}, {dy:+.2f}) zoom {z:g}")
    for _ in range(JUMP_CUTS):
        segments.append(("framing", n, {"dx": 0.0, "dy": 0.0, "zoom": 1.0, "jump_s": 2.0}))
        kinds.append("jump cut (same framing, +2 s)")
    two_start = n * len(segments)
    segments.append(("two", 60, {}))
    frames = render(rig, segments, scale=0.5)
    with tempfile.TemporaryDirectory() as tmp:
        write_frames(frames, tmp)
        c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        arrays = detect_video_frames(tmp, progress=False, redetect=False)
        det_s = time.perf_counter() - t0
        c1 = resource.getrusage(resource.RUSAGE_SELF)
    pose = arrays["pose"]
    if args.save:
        np.savez(args.save, **arrays)
    cut = cut_frames(pose, frame_change=arrays["frame_change"])
    by_points = cut_frames(pose)
    by_picture = cut_frames(pose, cut_jump=0, frame_change=arrays["frame_change"])
    bounds = [n * (k + 1) for k in range(len(kinds))]
    print(f"\nmade-up cuts ({n} frames per framing, 640x360, MediaPipe):")
    hits = {}
    for b, kind in zip(bounds, kinds, strict=True):
        hit = bool(cut[b])
        hits.setdefault(kind.startswith("jump"), []).append((hit, bool(by_points[b]), bool(by_picture[b])))
        print(f"  frame {b:4d} {kind}: {'found' if hit else 'MISSED'} (keypoints {by_points[b]:d}, picture "
              f"{by_picture[b]:d}, change {arrays['frame_change'][b]:.1f})"
              + ("" if arrays["valid"][b] else " (frame also lacks a complete person)"))
    framing_hits, jump_hits = hits[False], hits[True]
    inside = np.ones(two_start, bool)
    inside[bounds] = False
    inside[0] = False
    for name, k in (("both", 0), ("keypoints only", 1), ("picture only", 2)):
        print(f"{name}: framing cuts found {sum(h[k] for h in framing_hits)} of {len(framing_hits)}; jump cuts "
              f"{sum(h[k] for h in jump_hits)} of {len(jump_hits)}")
    print(f"false cuts inside the segments: {int(cut[:two_start][inside].sum())} of {int(inside.sum())} frames")
    neck = pose[two_start:, 0, 1]
    seen = neck > 0
    side = neck > frames[0].shape[1] / 2
    switches = [two_start + t for t in range(1, len(neck)) if seen[t] and seen[t - 1] and side[t] != side[t - 1]]
    found = arrays["found"][two_start:]
    print(f"\ntwo speakers, 60 frames: MediaPipe follows one: body found {int(found[:, 0].sum())}, face "
          f"{int(found[:, 1].sum())}, hands {int(found[:, 2].sum())}/{int(found[:, 3].sum())}; neck on the left "
          f"half {int((seen & ~side).sum())} frames, right {int((seen & side).sum())}; switches {switches}, caught "
          f"{sum(bool(cut[s]) for s in switches)}")
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        cut_frames(pose)
        best = min(best, time.perf_counter() - t)
    thumb = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for image in frames[:100]:
            thumbnail(image, rgb=False)
        thumb = min(thumb, (time.perf_counter() - t) / 100)
    big = cv2.resize(frames[0], (1280, 720))
    t = time.perf_counter()
    for _ in range(100):
        thumbnail(big, rgb=False)
    thumb_720 = (time.perf_counter() - t) / 100
    print(f"picture check inside detection: {thumb * 1e6:.0f} us a 640x360 frame, {thumb_720 * 1e6:.0f} us a "
          f"1280x720 frame: {thumb / (det_s / len(pose)):.2e} of a frame's detection here")
    cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    print(f"\ncost: cut check {best / len(pose) * 1e6:.2f} us a frame; detection {det_s / len(pose) * 1e3:.1f} ms a "
          f"frame ({len(pose) / det_s:.1f} frames/s wall, {cpu / len(pose) * 1e3:.1f} ms CPU a frame): ratio "
          f"{best / det_s:.2e} of detection")


if __name__ == "__main__":
    main()
