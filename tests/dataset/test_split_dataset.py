"""split_dataset (docs/dataset.md §12): per-video clip files -> train/idle/dev memory-mappable arrays + clips.csv."""

import logging

import numpy as np
import pandas as pd
import pytest

from sdt.constants import SPLITS
from sdt.dataset.split_dataset import min_clips_for_dev, split_counts, split_dataset
from sdt.errors import InputError

T, AUDIO = 64, 68266
FPS = 15.0


def write_clip_file(path, n, video_id, skip=80, stride=5, audio_len=AUDIO, **extra):
    """A generate_clips npz of ``n`` clips whose values encode (video_id, clip k): poses and audio filled with
    video_id * 1000 + k, so every packed row can be traced back to its source clip."""
    tag = video_id * 1000 + np.arange(n, dtype=np.float32)
    poses = np.broadcast_to(tag[:, None, None, None], (n, T, 3, 137)).astype(np.float32)
    audio = np.broadcast_to(tag[:, None], (n, audio_len)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, poses=poses, audio=audio, start_frame=skip + stride * np.arange(n, dtype=np.int64),
             windows_total=np.int64(n + 3), dropped_invalid=np.int64(3), video=np.str_(path.stem), fps=np.float64(FPS),
             **extra)
    return path


def outputs_for(folder):
    return {f"{s}_{k}": folder / f"{s}_{k}.npy" for s in SPLITS for k in ("poses", "audio")}


@pytest.mark.parametrize("n, expected", [(0, (0, 0, 0)), (5, (4, 1, 0)), (10, (8, 2, 0)), (100, (80, 13, 7)),
                                         (69, (55, 13, 1)), (15, (12, 3, 0))])
def test_split_counts_follow_the_release(n, expected):
    assert split_counts(n, 0.8, 13) == expected  # int(n * 0.8) train, next 13 idle, rest dev


def test_min_clips_for_dev():
    assert min_clips_for_dev(0.8, 13) == 66  # int(66 * 0.8) = 52 train, 13 idle, 1 dev
    assert split_counts(65, 0.8, 13)[2] == 0


def test_split_dataset_arrays_and_index(tmp_path, caplog, monkeypatch):
    # clip files streamed 3 clips at a time: chunks straddle splits
    monkeypatch.setattr("sdt.dataset.split_dataset.CLIP_CHUNK", 3)
    clips = tmp_path / "results" / "spk" / "clips"
    files = [write_clip_file(clips / "b_video.npz", 20, 1), write_clip_file(clips / "a_video.npz", 0, 2),
             write_clip_file(clips / "c.npz", 12, 3)]
    out = outputs_for(tmp_path / "dataset")
    with caplog.at_level(logging.WARNING):
        totals = split_dataset(files, out, tmp_path / "dataset" / "clips.csv", train_fraction=0.8, idle_clips=2)
    assert "a_video" in caplog.text and "no clips" in caplog.text  # a video without clips: warned, skipped
    # b: 20 -> 16 / 2 / 2;  c: 12 -> int(9.6) = 9 / 2 / 1
    assert totals == {"train": 25, "idle": 4, "dev": 3}
    arrays = {k: np.load(p, mmap_mode="r") for k, p in out.items()}
    for s, n in totals.items():
        assert arrays[f"{s}_poses"].shape == (n, T, 3, 137) and arrays[f"{s}_poses"].dtype == np.float32
        assert arrays[f"{s}_audio"].shape == (n, AUDIO) and arrays[f"{s}_audio"].dtype == np.float32
    assert not [p for p in (tmp_path / "dataset").iterdir() if p.name.startswith(".")]  # no temporary left

    index = pd.read_csv(tmp_path / "dataset" / "clips.csv")
    assert list(index.columns[:9]) == ["dataset", "start", "end", "interval_id", "video_fn", "speaker",
                                       "start_frame", "end_frame", "index"]
    assert list(index["dataset"]) == ["train"] * 25 + ["idle"] * 4 + ["dev"] * 3
    assert set(index["speaker"]) == {"spk"} and set(index["video_fn"]) == {"b_video.mp4", "c.mp4"}
    # every row points at its source clip, in time order inside each video
    vid = {"b_video": 1, "c": 3}
    for row in index.itertuples():
        tag = vid[row.interval_id] * 1000 + row.video_clip
        assert arrays[f"{row.dataset}_poses"][row.index, 5, 1, 7] == tag
        assert arrays[f"{row.dataset}_audio"][row.index, -1] == tag
        assert row.start_frame == 80 + 5 * row.video_clip and row.end_frame == row.start_frame + T
        assert row.start == pytest.approx(row.start_frame / FPS, abs=1e-6)
        assert row.end == pytest.approx(row.end_frame / FPS, abs=1e-6)
    for s in SPLITS:
        assert sorted(index[index.dataset == s]["index"]) == list(range(totals[s]))
    b = index[index.interval_id == "b_video"]
    assert list(b[b.dataset == "train"].video_clip) == list(range(16))
    assert list(b[b.dataset == "idle"].video_clip) == [16, 17]
    assert list(b[b.dataset == "dev"].video_clip) == [18, 19]


def test_release_defaults_keep_dev_frames_out_of_train(tmp_path):
    clips = tmp_path / "results" / "spk" / "clips"
    files = [write_clip_file(clips / "a.npz", 100, 1)]
    totals = split_dataset(files, outputs_for(tmp_path / "d"), tmp_path / "d" / "clips.csv")
    assert totals == {"train": 80, "idle": 13, "dev": 7}
    index = pd.read_csv(tmp_path / "d" / "clips.csv")
    train, dev = index[index.dataset == "train"], index[index.dataset == "dev"]
    assert dev.start_frame.min() >= train.end_frame.max()  # 13 idle clips 5 frames apart span more than 64 frames


def test_speaker_without_any_clip_names_the_clips_folder(tmp_path):
    clips = tmp_path / "results" / "spk" / "clips"
    files = [write_clip_file(clips / "a.npz", 0, 1), write_clip_file(clips / "b.npz", 0, 2)]
    out = outputs_for(tmp_path / "dataset")
    with pytest.raises(InputError, match=r"clips: videos too short: 0 clips from 2 videos") as e:
        split_dataset(files, out, tmp_path / "dataset" / "clips.csv")
    assert e.value.path == str(clips)
    assert not (tmp_path / "dataset").exists() or not list((tmp_path / "dataset").iterdir())


def test_speaker_without_dev_clips(tmp_path):
    clips = tmp_path / "results" / "spk" / "clips"
    files = [write_clip_file(clips / "a.npz", 30, 1)]  # 24 train, 6 idle, 0 dev with the release's 13 idle
    with pytest.raises(InputError, match=r"0 dev clips .* longest video has 30 clips.* at least 66 clips.*"
                                         r"dataset.idle_clips: 5 gives it dev clips"):
        split_dataset(files, outputs_for(tmp_path / "dataset"), tmp_path / "dataset" / "clips.csv")
    assert not (tmp_path / "dataset" / "clips.csv").exists()
    # the suggestion holds: with 5 idle clips the video has a dev clip
    info = split_dataset(files, outputs_for(tmp_path / "d5"), tmp_path / "d5" / "clips.csv", idle_clips=5)
    assert info["dev"] == 1


def test_bad_clip_files(tmp_path):
    clips = tmp_path / "results" / "spk" / "clips"
    good = write_clip_file(clips / "a.npz", 10, 1)
    corrupt = clips / "b.npz"
    corrupt.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="b.npz: cannot read clip file"):
        split_dataset([good, corrupt], outputs_for(tmp_path / "d"), tmp_path / "d" / "clips.csv", idle_clips=1)
    other = write_clip_file(clips / "c.npz", 10, 2, audio_len=100)
    with pytest.raises(InputError, match="disagree on clip shape"):
        split_dataset([good, other], outputs_for(tmp_path / "d"), tmp_path / "d" / "clips.csv", idle_clips=1)
    np.savez(clips / "d.npz", poses=np.zeros((1, T, 3, 137), np.float32))
    with pytest.raises(InputError, match="d.npz: clip file lacks audio, start_frame, fps"):
        split_dataset([clips / "d.npz"], outputs_for(tmp_path / "d"), tmp_path / "d" / "clips.csv")
    assert not (tmp_path / "d").exists() or not list((tmp_path / "d").iterdir())


def test_an_interval_tables_dataset_column_decides_whole_videos(tmp_path):
    clips = tmp_path / "results" / "spk" / "clips"
    files = [write_clip_file(clips / "a.npz", 6, 1), write_clip_file(clips / "b.npz", 4, 2),
             write_clip_file(clips / "c.npz", 70, 3)]
    out = tmp_path / "dataset"
    totals = split_dataset(files, outputs_for(out), out / "clips.csv", splits={"a": "dev", "b": "train"})
    assert totals == {"train": 4 + 56, "idle": 13, "dev": 6 + 1}  # c, not in the table's column: the release's split
    index = pd.read_csv(out / "clips.csv")
    assert index.groupby("interval_id")["dataset"].agg(set).to_dict() == {
        "a": {"dev"}, "b": {"train"}, "c": {"train", "idle", "dev"}}
    np.testing.assert_array_equal(np.load(out / "dev_poses.npy")[:6, 0, 0, 0], 1000 + np.arange(6))
