"""qc_table: per-video counts from the keypoints, outliers and clips files and clips.csv, plus a TOTAL row."""

import logging

import numpy as np
import pandas as pd
import pytest
from test_split_dataset import outputs_for, write_clip_file

from sdt.dataset.qc_table import qc_table
from sdt.dataset.split_dataset import split_dataset
from sdt.errors import InputError

REASONS = np.array(["kept", "no_person", "undetected_point"])


def write_keypoints(path, found, redetected=None):
    """Keypoints npz of the contract; ``found`` [T, 4] bool (body, face, lhand, rhand)."""
    t = len(found)
    path.parent.mkdir(parents=True, exist_ok=True)
    redetected = np.zeros(t, bool) if redetected is None else redetected
    np.savez(path, pose=np.zeros((t, 3, 137), np.float32), found=found, valid=found.all(1), redetected=redetected,
             fps=np.float64(15),
             width=np.int64(1280), height=np.int64(720), detector=np.str_("mediapipe"))


def write_outliers(path, reason):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, keep=reason == 0, reason=reason.astype(np.int8), reasons=REASONS)


@pytest.fixture
def speaker(tmp_path):
    """Two videos: 'a' (200 frames, 20 clips) and 'b' (100 frames, no clips)."""
    root = tmp_path / "results" / "spk"
    found_a = np.ones((200, 4), bool)
    found_a[:10, 2] = False  # left hand missing on 10 frames
    found_a[10:15] = False  # nobody on 5 frames
    reason_a = np.zeros(200, int)
    reason_a[:10], reason_a[10:15], reason_a[150:152] = 2, 1, 2
    write_keypoints(root / "keypoints" / "a.npz", found_a, redetected=np.arange(200) % 50 == 7)  # 4 frames
    write_outliers(root / "outliers" / "a.npz", reason_a)
    found_b = np.zeros((100, 4), bool)
    found_b[:, :2] = True  # body and face only: no complete person
    write_keypoints(root / "keypoints" / "b.npz", found_b)
    write_outliers(root / "outliers" / "b.npz", np.full(100, 2))
    sync = {"av_lag_frames": np.int64(15), "av_r": np.float64(0.9), "av_out_of_sync": True, "av_corrected": False}
    clips = [write_clip_file(root / "clips" / "a.npz", 20, 1, dropped_audio=np.int64(1), **sync),
             write_clip_file(root / "clips" / "b.npz", 0, 2)]  # b: sync not measured
    split_dataset(clips, outputs_for(root / "dataset"), root / "dataset" / "clips.csv", idle_clips=2)
    return root


def paths(root, stage, videos=("a", "b")):
    return [root / stage / f"{v}.npz" for v in videos]


def test_qc_table(speaker, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="sdt.dataset.qc_table"):
        table = qc_table(paths(speaker, "keypoints"), paths(speaker, "outliers"), paths(speaker, "clips"),
                         speaker / "dataset" / "clips.csv", speaker / "qc.csv")
    read = pd.read_csv(speaker / "qc.csv")
    pd.testing.assert_frame_equal(read, table, check_dtype=False)
    assert list(read["video"]) == ["a", "b", "TOTAL"]
    a, b, total = (read.iloc[i] for i in range(3))
    assert (a.frames_in, a.found_body, a.found_lhand, a.frames_complete_person) == (200, 195, 185, 185)
    assert (a.frames_redetected, b.frames_redetected) == (4, 0)
    assert (a.outliers_no_person, a.outliers_undetected_point, a.frames_kept) == (5, 12, 183)
    # the reasons generate_clips records (sdt.dataset.generate_clips: dropped_invalid, dropped_audio)
    assert sorted(c for c in read.columns if c.startswith("dropped_")) == ["dropped_audio", "dropped_invalid"]
    assert (a.windows_total, a.clips, a.dropped_invalid, a.dropped_audio) == (23, 20, 3, 1)
    assert (a.train, a.idle, a.dev) == (16, 2, 2)
    assert (b.frames_in, b.frames_complete_person, b.outliers_undetected_point, b.frames_kept) == (100, 0, 100, 0)
    assert (b.clips, b.dropped_audio, b.train, b.idle, b.dev) == (0, 0, 0, 0, 0)  # a reason one video lacks: 0
    # the lag of speech behind mouth: a video's, empty where not measured and in TOTAL; out-of-sync videos counted
    assert (a.av_lag_frames, a.av_out_of_sync, a.av_corrected) == (15, 1, 0)
    assert np.isnan(b.av_lag_frames) and np.isnan(total.av_lag_frames) and total.av_out_of_sync == 1
    assert "out of sync in 1 video(s): ['a']" in caplog.text
    numeric = read.columns.drop(["video", "av_lag_frames"])
    assert (total[numeric] == read.iloc[:2][numeric].sum()).all()
    assert list(read.columns[-3:]) == ["train", "idle", "dev"]


def test_qc_table_needs_the_same_videos_everywhere(speaker):
    with pytest.raises(InputError, match=r"cover different videos: \['b'\]"):
        qc_table(paths(speaker, "keypoints"), paths(speaker, "outliers", ["a"]), paths(speaker, "clips"),
                 speaker / "dataset" / "clips.csv", speaker / "qc.csv")
    assert not (speaker / "qc.csv").exists()
