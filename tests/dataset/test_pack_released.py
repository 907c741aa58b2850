"""pack_released: the authors' released folder (docs/dataset.md §14), read as it is -> train/idle/dev arrays and
clips.csv."""

import logging
import math

import numpy as np
import pandas as pd
import pytest
from release_fixture import COLUMNS, release_clip

from sdt.constants import SPLITS
from sdt.dataset.pack_released import pack_released, release_time_seconds, resolve_clip_path
from sdt.errors import InputError

AUDIO = 68266  # int(64 * 16000 / 15)
@pytest.fixture
def released(tmp_path):
    """<tmp>/oliver: processed_137.csv + npz/ clips; returns (folder, {pose_fn: (split, pose, audio)})."""
    folder = tmp_path / "speakers" / "oliver"
    rows, clips = [], {}
    spec = [  # label, start, end, pose frames, audio samples
        ("train", "80", "144", 64, 68267),  # the release's clip script: frame indices; audio one sample long
        ("train", "85", "149", 70, 60000),  # longer pose (cut to 64), short audio (zero-padded)
        ("train", "0:00:06", "0:00:10.266667", 64, AUDIO),  # Speech2Gesture-style times
        ("idle", "90", "154", 64, AUDIO),
        ("dev", "95", "159", 64, AUDIO),
        ("val", "100", "164", 64, AUDIO),
        ("val", "6.666667", "10.933333", 64, AUDIO),
    ]
    for i, (label, start, end, frames, samples) in enumerate(spec):
        name = f"clip{i}.npz"
        # one pose_fn as an absolute path from the authors' machine: found by the part after ".../oliver/"
        pose_fn = f"/group/projects/data/oliver/npz/{name}" if i == 1 else f"npz/{name}"
        pose, audio = release_clip(folder / "npz" / name, i, frames, samples)
        clips[pose_fn] = (label, pose, audio)
        rows.append([label, start, end, "107557", pose_fn, f"audio/{i}.wav", "107557.mp4", "oliver"])
    pd.DataFrame(rows, columns=COLUMNS).to_csv(folder / "processed_137.csv", index=False)
    return folder, clips


def outputs_for(folder):
    return {f"{s}_{k}": folder / f"{s}_{k}.npy" for s in SPLITS for k in ("poses", "audio")}


def test_release_time_seconds():
    assert release_time_seconds("80", 15) == pytest.approx(80 / 15)  # a whole number is a frame index
    assert release_time_seconds("0:01:02.5", 15) == 62.5
    assert release_time_seconds("0 days 00:00:06.400000", 15) == 6.4
    assert release_time_seconds("6.666667", 15) == 6.666667
    assert math.isnan(release_time_seconds("", 15)) and math.isnan(release_time_seconds("soon", 15))


def test_resolve_clip_path(tmp_path):
    folder = tmp_path / "oliver"
    (folder / "npz").mkdir(parents=True)
    (folder / "npz" / "a.npz").write_bytes(b"")
    assert resolve_clip_path(folder, "npz/a.npz") == folder / "npz" / "a.npz"
    assert resolve_clip_path(folder, "oliver/npz/a.npz") == folder / "npz" / "a.npz"
    assert resolve_clip_path(folder, "/elsewhere/oliver/npz/a.npz") == folder / "npz" / "a.npz"
    assert resolve_clip_path(folder, "npz/missing.npz") == folder / "npz" / "missing.npz"


def test_pack_released_splits_and_round_trip(released, tmp_path):
    folder, clips = released
    out = outputs_for(tmp_path / "dataset")
    summary = pack_released(folder / "processed_137.csv", out, tmp_path / "dataset" / "clips.csv")
    assert summary == {"train": 3, "idle": 1, "dev": 3, "skipped": []}  # dev and val -> dev; idle apart
    arrays = {k: np.load(p, mmap_mode="r") for k, p in out.items()}
    for s in SPLITS:
        assert arrays[f"{s}_poses"].shape == (summary[s], 64, 3, 137) and arrays[f"{s}_poses"].dtype == np.float32
        assert arrays[f"{s}_audio"].shape == (summary[s], AUDIO) and arrays[f"{s}_audio"].dtype == np.float32

    index = pd.read_csv(tmp_path / "dataset" / "clips.csv", dtype={"interval_id": str})
    assert list(index.columns[:9]) == ["dataset", "start", "end", "interval_id", "video_fn", "speaker",
                                       "start_frame", "end_frame", "index"]
    assert list(index["dataset"]) == ["train"] * 3 + ["idle"] + ["dev"] * 3
    assert list(index["release_dataset"]) == ["train"] * 3 + ["idle", "dev", "val", "val"]
    assert list(index["release_row"]) == [0, 1, 2, 0, 0, 0, 1]  # position among the release's rows of its label
    assert list(index["start_frame"]) == [80, 85, 90, 90, 95, 100, 100]
    assert index["start"].iloc[2] == 6.0 and index["end"].iloc[0] == pytest.approx(144 / 15, abs=1e-6)
    assert set(index["interval_id"]) == {"107557"} and set(index["speaker"]) == {"oliver"}
    for row in index.itertuples():
        label, pose, audio = clips[row.pose_fn]
        assert label == row.release_dataset
        np.testing.assert_array_equal(arrays[f"{row.dataset}_poses"][row.index], pose[:64].astype(np.float32))
        packed = arrays[f"{row.dataset}_audio"][row.index]
        n = min(len(audio), AUDIO)
        np.testing.assert_array_equal(packed[:n], audio[:n])  # cut at the end ...
        assert not packed[n:].any()  # ... or zero-padded at the end


def test_unreadable_clips_are_skipped_and_reported(released, tmp_path, caplog, monkeypatch):
    folder, clips = released
    monkeypatch.setattr("sdt.dataset.split_dataset.COPY_CHUNK", 1)  # shrink the arrays one clip at a time
    (folder / "npz" / "clip0.npz").unlink()  # missing
    (folder / "npz" / "clip4.npz").write_bytes(b"PK\x03\x04 truncated")  # corrupt
    np.savez(folder / "npz" / "clip5.npz", pose=np.zeros((64, 2, 137)), audio=np.zeros(AUDIO))  # wrong shape
    with caplog.at_level(logging.WARNING):
        summary = pack_released(folder / "processed_137.csv", outputs_for(tmp_path / "d"), tmp_path / "d" / "c.csv")
    assert (summary["train"], summary["idle"], summary["dev"]) == (2, 1, 1)
    reported = dict(summary["skipped"])
    assert set(reported) == {str(folder / "npz" / f"clip{i}.npz") for i in (0, 4, 5)}
    assert "cannot read clip" in reported[str(folder / "npz" / "clip0.npz")]
    assert "pose must be" in reported[str(folder / "npz" / "clip5.npz")]
    for i in (0, 4, 5):
        assert f"clip{i}.npz" in caplog.text
    index = pd.read_csv(tmp_path / "d" / "c.csv", keep_default_na=False)
    # every release row is kept, in the csv's order: a skipped clip has index -1 and its problem ...
    skipped = index[index["index"] == -1]
    assert sorted(skipped["pose_fn"]) == ["npz/clip0.npz", "npz/clip4.npz", "npz/clip5.npz"]
    assert (skipped["problem"] != "").all() and (index[index["index"] >= 0]["problem"] == "").all()
    # ... and every other clip keeps its release row: train row k of the release is template-table row k
    train_rows = index[index.dataset == "train"]
    assert list(train_rows["release_row"]) == [0, 1, 2] and list(train_rows["index"]) == [-1, 0, 1]
    assert list(index[index.dataset == "dev"]["release_row"]) == [0, 0, 1]  # dev 0, then val 0 and 1
    train = np.load(tmp_path / "d" / "train_poses.npy", mmap_mode="r")
    assert train.shape[0] == 2  # shrunk to what was read; packed rows stay contiguous
    for row in train_rows[train_rows["index"] >= 0].itertuples():
        np.testing.assert_array_equal(train[row.index], clips[row.pose_fn][1][:64].astype(np.float32))
    assert np.load(tmp_path / "d" / "dev_audio.npy", mmap_mode="r").shape == (1, AUDIO)
    assert not [p for p in (tmp_path / "d").iterdir() if p.name.startswith(".")]


def test_no_readable_train_clip_is_an_error(released, tmp_path):
    folder, _ = released
    for i in (0, 1, 2):
        (folder / "npz" / f"clip{i}.npz").unlink()
    with pytest.raises(InputError, match=r"processed_137.csv: no usable train clip \(3 unreadable, e.g. .*clip0.npz"):
        pack_released(folder / "processed_137.csv", outputs_for(tmp_path / "d"), tmp_path / "d" / "c.csv")
    assert not (tmp_path / "d").exists() or not list((tmp_path / "d").iterdir())  # nothing half-written


def test_bad_index(tmp_path):
    folder = tmp_path / "oliver"
    with pytest.raises(InputError, match="processed_137.csv: released index not found"):
        pack_released(folder / "processed_137.csv", outputs_for(tmp_path / "d"), tmp_path / "d" / "c.csv")
    folder.mkdir()
    pd.DataFrame([["test", "npz/a.npz"]], columns=["dataset", "pose_fn"]).to_csv(folder / "processed_137.csv")
    with pytest.raises(InputError, match=r"unknown dataset label\(s\) \['test'\]"):
        pack_released(folder / "processed_137.csv", outputs_for(tmp_path / "d"), tmp_path / "d" / "c.csv")
    pd.DataFrame([["train"]], columns=["dataset"]).to_csv(folder / "processed_137.csv", index=False)
    with pytest.raises(InputError, match="lacks column.* pose_fn"):
        pack_released(folder / "processed_137.csv", outputs_for(tmp_path / "d"), tmp_path / "d" / "c.csv")
