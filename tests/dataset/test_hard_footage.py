"""Hard footage, rendered here from the sample rig (sdt.dataset.hard_footage) and run through the real chain
(MediaPipe, remove_outliers, rescale_shoulders per shot, generate_clips, the qc row): a hard cut between two
framings of the speaker, the speaker leaving the frame for 2 s, two speakers side by side.  No clip may span a cut
or a switch of person, and qc.csv counts what the cuts cost."""

import subprocess

import cv2
import numpy as np
import pytest

from sdt.constants import CLIP_FRAMES
from sdt.dataset.detect_keypoints import detect_keypoints
from sdt.dataset.generate_clips import generate_clips
from sdt.dataset.hard_footage import render, write_frames
from sdt.dataset.qc_table import video_row
from sdt.dataset.remove_outliers import CUT, NO_PERSON, TRUNK, UNDETECTED_POINT, remove_outliers
from sdt.dataset.rescale_shoulders import rescale_shoulders, shoulder_width
from sdt.dataset.sample_rig import Rig
from sdt.media import ffmpeg_exe

REFERENCE_PX = 331.0850066245443
ZOOMED = {"dx": 0.1, "dy": 0.03, "zoom": 1.2}  # the second framing: shifted right and down, 1.2x closer
# 70 frames (> one 64-frame clip) of each framing, 2 s away, the first framing again, then two speakers
SEGMENTS = [("framing", 70, {}), ("framing", 70, ZOOMED), ("away", 30, {}), ("framing", 70, {}), ("two", 70, {})]
BOUNDS = np.cumsum([n for _, n, _ in SEGMENTS])[:-1]  # first frame of every segment after the first: 70 140 170 240


@pytest.fixture(scope="module")
def chain(messi_photo, tmp_path_factory):
    d = tmp_path_factory.mktemp("hard")
    frames = render(Rig(cv2.imread(str(messi_photo))), SEGMENTS, scale=0.5)  # 640x360
    write_frames(frames, d / "frames")
    video = d / "hard.mp4"  # the 15 fps video with a tone, for generate_clips' audio
    subprocess.run([ffmpeg_exe(), "-v", "error", "-framerate", "15", "-i", str(d / "frames" / "%06d.jpg"),
                    "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=16000:duration={len(frames) / 15}",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(video)], check=True)
    kp = d / "keypoints.npz"
    arrays = detect_keypoints(d / "frames", kp, fps=15, progress=False)
    remove_outliers(kp, d / "outliers.npz")
    rescale_shoulders(kp, d / "outliers.npz", d / "rescaled.npz", reference_px=REFERENCE_PX, per="shot")
    generate_clips(d / "rescaled.npz", d / "outliers.npz", video, d / "clips.npz", skip_frames=0)
    load = {k: dict(np.load(d / f"{k}.npz")) for k in ("outliers", "rescaled", "clips")}
    return {"pose": arrays["pose"], "kp": kp, "dir": d, **load}


def test_the_hard_cut_is_a_cut(chain):
    out = chain["outliers"]
    assert out["cut"][BOUNDS[0]], "the cut between the two framings is not found"
    assert not out["cut"][: BOUNDS[0]].any() and not out["cut"][BOUNDS[0] + 1: BOUNDS[1]].any()  # no false cut
    assert not out["keep"][out["cut"]].any()  # a cut frame is never kept, whatever reason it is dropped for
    assert np.isin(out["reason"][out["cut"]], [CUT, NO_PERSON, UNDETECTED_POINT]).all()


def test_no_clip_spans_a_cut_a_gap_or_a_switch(chain):
    """Every clip lies inside one segment, and within it the tracked person's neck and shoulders never jump."""
    starts = chain["clips"]["start_frame"]
    assert len(starts) >= 1  # the segments of one framing are long enough to give clips
    pose = chain["pose"]
    for s in starts:
        assert not ((BOUNDS > s) & (BOUNDS < s + CLIP_FRAMES)).any(), f"clip at {s} spans a segment boundary"
        xy = pose[s: s + CLIP_FRAMES, :2][:, :, TRUNK].astype(float)
        width = np.hypot(*(xy[:, :, 1] - xy[:, :, 2]).T)
        assert np.abs(np.diff(xy, axis=0)).max() < 0.25 * width.min(), f"the person jumps inside the clip at {s}"


def test_two_speakers_the_detector_switch_is_caught(chain):
    """MediaPipe Holistic follows one person; where its neck jumps from one speaker to the other the frame is a cut."""
    pose, cut = chain["pose"], chain["outliers"]["cut"]
    neck_x = pose[BOUNDS[3]:, 0, 1]
    seen = neck_x > 0
    side = np.where(neck_x > 320, 1, 0)  # the right half of the 640 px frame
    switches = [t for t in range(1, len(side)) if seen[t] and seen[t - 1] and side[t] != side[t - 1]]
    for t in switches:
        assert cut[BOUNDS[3] + t], f"switch of person at frame {BOUNDS[3] + t} not caught"


def test_qc_counts_the_cut_frames_and_windows(chain):
    d, out, cl = chain["dir"], chain["outliers"], chain["clips"]
    row = video_row(chain["kp"], d / "outliers.npz", d / "clips.npz")
    assert row["outliers_cut"] == int((out["reason"] == CUT).sum())  # dropped only for a cut
    assert row["cuts"] == int(out["cut"].sum()) >= 2  # the framing cut and the switch of person at least
    starts = np.arange(int(cl["windows_total"])) * int(cl["clip_stride"])
    holding = sum(bool(out["cut"][s: s + CLIP_FRAMES].any()) for s in starts)
    assert row["windows_cut"] == holding >= 12  # the 12 windows across frame 70 at least
    assert row["windows_cut"] <= row["dropped_invalid"]
    assert row["outliers_no_person"] >= 30  # the 2 s away


def test_per_shot_rescale_brings_both_framings_to_the_reference(chain):
    resc, keep = chain["rescaled"], chain["outliers"]["keep"]
    assert str(resc["per"]) == "shot" and len(resc["shot_factor"]) >= 2
    shot = resc["shot"]
    first, second = shot[BOUNDS[0] - 1], shot[BOUNDS[0]]
    assert second != first
    for k in (first, second):
        width = shoulder_width(resc["pose"], keep & (shot == k))
        assert width == pytest.approx(REFERENCE_PX, rel=1e-4)
    assert resc["shot_factor"][first] != resc["shot_factor"][second]
    # one factor per video (the release's rule) leaves the two framings at different scales
    one = shoulder_width(chain["pose"], keep) and float(resc["factor"])
    widths = [shoulder_width(chain["pose"], keep & (shot == k)) * one for k in (first, second)]
    assert widths[0] != pytest.approx(widths[1], rel=1e-3)
