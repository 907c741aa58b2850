"""Long videos with an interval table, as the real workflow sees them (real snakemake, ffmpeg and MediaPipe on the
sample's generated footage): the same footage as pre-cut files and as one long file plus a table gives identical
clips (poses and audio) and the same split."""

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import SMALL_CONFIG, make_workdir, planned_jobs, snakemake

from sdt.dataset.cut_interval import cut_interval
from sdt.dataset.make_sample_video import make_sample_video

pytestmark = pytest.mark.slow

INTERVALS = {"int_a": (0.6, 6.6), "int_b": (7.0, 13.0)}  # 6 s each: 90 frames at 15 fps -> 4 clips of 64
SPLIT = [f"results/{{s}}/dataset/{k}.npy" for k in ("train_poses", "train_audio", "dev_poses", "dev_audio")]


@pytest.fixture(scope="module")
def footage(tmp_path_factory, messi_photo, espeak):
    """(folder of pre-cut files, folder with the long file, its interval table)."""
    root = tmp_path_factory.mktemp("footage")
    (root / "long").mkdir()
    (root / "precut").mkdir()
    long = root / "long" / "show.mp4"
    make_sample_video(messi_photo, long, seconds=13.5, seed=3, espeak=espeak, labels=root / "labels.csv")
    for name, (start, end) in INTERVALS.items():
        cut_interval(long, root / "precut" / f"{name}.mp4", start, end)
    rows = [f"{name},00:00:{start:09.6f},{end},show.mp4,tv" for name, (start, end) in INTERVALS.items()]
    table = root / "intervals.csv"
    table.write_text("interval_id,start_time,end_time,video_fn,speaker\n" + "\n".join(rows) + "\n")
    return root / "precut", root / "long", table


def test_a_long_file_and_its_table_give_the_precut_clips(footage, tmp_path):
    precut, long, table = footage
    config = {**SMALL_CONFIG, "dataset": {"skip_frames": 10, "idle_clips": 0},
              "speakers": {"cut": {"videos": str(precut)}, "tv": {"videos": str(long), "intervals": str(table)}}}
    work = make_workdir(tmp_path, config)
    targets = [p.format(s=s) for s in ("cut", "tv") for p in [*SPLIT, "results/{s}/dataset/clips.csv"]]
    snakemake(work, *targets)
    for name in INTERVALS:
        a, b = (np.load(work / f"results/{s}/clips/{name}.npz") for s in ("cut", "tv"))
        assert len(a["poses"]) == 4
        np.testing.assert_array_equal(a["poses"], b["poses"])
        np.testing.assert_array_equal(a["audio"], b["audio"])
    for path in SPLIT:
        np.testing.assert_array_equal(np.load(work / path.format(s="cut")), np.load(work / path.format(s="tv")))
    cut, tv = (pd.read_csv(work / f"results/{s}/dataset/clips.csv").drop(columns="speaker") for s in ("cut", "tv"))
    pd.testing.assert_frame_equal(cut, tv)
    assert planned_jobs(work, targets=targets) == {}

    # a dataset column decides each interval's split; a test interval is not built at all
    table.write_text("interval_id,start_time,end_time,video_fn,dataset\nint_a,0.6,6.6,show.mp4,dev\n"
                     "int_b,7.0,13.0,show.mp4,train\nint_c,1,3,show.mp4,test\n")
    assert planned_jobs(work, targets=targets[4:]) == {"split_dataset": 1}  # the cuts' params are unchanged
    snakemake(work, *targets[4:])
    index = pd.read_csv(work / "results/tv/dataset/clips.csv")
    assert index.groupby("interval_id")["dataset"].agg(set).to_dict() == {"int_a": {"dev"}, "int_b": {"train"}}
    assert not (work / "results/tv/intervals/int_c.mp4").exists()
    assert (work / "results/tv/videos.txt").read_text() == "int_a\nint_b\n"
