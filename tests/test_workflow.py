"""The real workflow, end to end, on a small sample speaker (2 videos x 14 s, tiny training preset):
one full run shared by the module, then what a rerun would do after each kind of change (dry runs), and the
errors a user gets from bad configs and inputs.  Everything runs real snakemake, ffmpeg and MediaPipe."""

import json
import os
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import SMALL_CONFIG, copy_workflow, make_workdir, planned_jobs, snakemake

from sdt.media import probe
from sdt.poses import load_stats

pytestmark = pytest.mark.slow

VIDEOS = ["sample00", "sample01"]
PER_VIDEO = ["make_sample_video", "change_fps", "extract_frames", "detect_keypoints", "remove_outliers",
             "rescale_shoulders", "generate_clips"]
# Every rule downstream of generate_clips (per speaker): what a changed clip parameter may rerun.
AFTER_CLIPS = {"generate_clips", "split_dataset", "compute_stats", "qc_table", "train_pose_vae", "train_sdt_bp",
               "train_sdt_vae", "train_s2g", "evaluate", "paper_tables", "demo", "render_clips", "plot_training",
               "plot_templates", "all"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A private copy of the workflow (so tests may touch its code) and one complete run of it."""
    src = tmp_path_factory.mktemp("workflow")
    snakefile = copy_workflow(src)
    workdir = make_workdir(tmp_path_factory.mktemp("work"))
    proc = snakemake(workdir, snakefile=snakefile, timeout=1500)
    return {"workdir": workdir, "snakefile": snakefile, "output": proc.output}


def plan(run, *args):
    return planned_jobs(run["workdir"], *args, snakefile=run["snakefile"])


def changed(run, **config):
    """A dry run's {rule: jobs} after changing config keys (a --configfile: nested --config values are strings)."""
    path = run["workdir"] / "config" / "change.yaml"
    path.write_text(yaml.safe_dump(config))
    return plan(run, "--configfile", str(path))


# --- the complete run ---------------------------------------------------------------------------------------

def test_dataset_outputs(run):
    work = run["workdir"] / "results" / "sample"
    index = pd.read_csv(work / "dataset" / "clips.csv")
    assert set(index["dataset"]) == {"train", "idle", "dev"}
    for split, rows in index.groupby("dataset"):
        poses = np.load(work / "dataset" / f"{split}_poses.npy", mmap_mode="r")
        audio = np.load(work / "dataset" / f"{split}_audio.npy", mmap_mode="r")
        assert poses.shape == (len(rows), 64, 3, 137) and audio.shape == (len(rows), 68266)
        assert sorted(rows["index"]) == list(range(len(rows)))
    # per video in time order: train first, then idle, then dev
    for _, rows in index.groupby("video_fn"):
        order = rows.sort_values("start_frame")["dataset"].tolist()
        assert order == sorted(order, key=["train", "idle", "dev"].index)
        assert order.count("idle") == SMALL_CONFIG["dataset"]["idle_clips"]
    stats = load_stats(work / "stats.npz")
    assert stats["n_train_clips"] == (index["dataset"] == "train").sum()
    assert stats["scale_rule"] == "rescaled_to_oliver" and stats["scale_factor"] > 0
    qc = pd.read_csv(work / "qc.csv")
    assert set(VIDEOS) <= set(qc["video"])
    per_video = qc[qc["video"].isin(VIDEOS)]
    assert (per_video["clips"] > 0).all()
    assert per_video["clips"].sum() == len(index)


def test_extracted_frames_are_temporary(run):
    assert not (run["workdir"] / "results" / "sample" / "frames" / "sample00").exists()


def test_models_tables_and_demo(run):
    work = run["workdir"] / "results"
    for method in ("pose_vae", "sdt_bp", "sdt_vae", "s2g"):
        assert (work / "sample" / "models" / f"{method}.pt").stat().st_size > 1_000_000
        history = pd.read_csv(work / "sample" / "train" / method / "history.csv")
        assert len(history) == 2 and np.isfinite(history.select_dtypes("number").to_numpy()).all()
    table = pd.read_csv(work / "tables" / "paper_table.csv")
    assert {"sdt_bp", "sdt_vae", "s2g", "ground_truth", "mean_pose"} <= set(table["method"])
    truth = table[table["method"] == "ground_truth"].iloc[0]
    assert truth["L2"] == 0 and abs(truth["FTD"]) < 1e-3
    assert (table[table["method"] != "ground_truth"]["L2"] > 0).all()
    metrics = json.loads((work / "sample" / "evaluation" / "sdt_vae.json").read_text())
    assert metrics["n_clips"] == table[table["method"] == "sdt_vae"].iloc[0]["n_clips"]
    demo = probe(work / "sample" / "demo" / "sdt_vae.mp4")
    assert demo["has_audio"] and demo["duration"] > 1


def test_html_report(run):
    report = run["workdir"] / "report.html"
    snakemake(run["workdir"], "--report", str(report), snakefile=run["snakefile"])
    text = report.read_text(errors="replace")
    assert "paper_table" in text and "qc" in text


# --- rerunning only what is stale ---------------------------------------------------------------------------

def test_second_run_does_nothing(run):
    assert plan(run) == {}


def test_clip_parameter_reruns_from_generate_clips(run):
    jobs = changed(run, dataset={"clip_stride": 6})
    assert jobs.get("generate_clips") == len(VIDEOS)
    assert set(jobs) <= AFTER_CLIPS, set(jobs) - AFTER_CLIPS
    assert {"split_dataset", "compute_stats", "train_sdt_bp", "paper_tables"} <= set(jobs)


def test_new_video_reruns_only_its_chain(run):
    jobs = changed(run, sample={"videos": 3})
    for rule in PER_VIDEO:
        assert jobs.get(rule) == 1, (rule, jobs)
    assert {"split_dataset", "compute_stats", "qc_table"} <= set(jobs)


def test_training_setting_reruns_only_that_model(run):
    jobs = changed(run, train={"gan_weight": 0.2})
    assert jobs.get("train_s2g") == 1
    assert not {"train_pose_vae", "train_sdt_bp", "train_sdt_vae"} & set(jobs)
    assert not set(PER_VIDEO) & set(jobs) and "split_dataset" not in jobs
    jobs = changed(run, train={"vae_kl_weight": 0.2})
    assert {"train_pose_vae", "train_sdt_vae"} <= set(jobs)  # sdt_vae's templates come from the VAE
    assert not {"train_sdt_bp", "train_s2g"} & set(jobs)


@pytest.mark.parametrize(("code", "rule"), [
    ("workflow_scripts/generate_clips.py", "generate_clips"),  # the step's script
    ("sdt/dataset/generate_clips.py", "generate_clips"),  # the importable code it runs
    ("sdt/dataset/detect_keypoints.py", "detect_keypoints"),
])
def test_edited_code_reruns_its_step(run, code, rule):
    path = run["snakefile"].parent / code
    text, stat = path.read_text(), path.stat()
    path.write_text(text + "\n# an edit\n")  # newer and different: the script's mtime, the module's content
    later = time.time() + 5  # mtime resolution is coarse on some file systems
    os.utime(path, (later, later))
    try:
        jobs = plan(run)
    finally:
        path.write_text(text)
        os.utime(path, (stat.st_atime, stat.st_mtime))
    assert jobs.get(rule) == len(VIDEOS), jobs
    upstream = set(PER_VIDEO[:PER_VIDEO.index(rule)]) - {"extract_frames"}  # temporary frames are made again
    assert not upstream & set(jobs)
    assert plan(run) == {}  # restored: nothing to do again


# --- bad configs and inputs ---------------------------------------------------------------------------------

def _config(tmp_path, speakers, **extra):
    return make_workdir(tmp_path, {**SMALL_CONFIG, "speakers": speakers, **extra})


def test_unknown_config_key_is_named(tmp_path):
    work = _config(tmp_path, SMALL_CONFIG["speakers"], dataset={"clip_lenght": 64})
    proc = snakemake(work, "--dry-run", check=False)
    assert proc.returncode != 0 and "clip_lenght" in proc.output


def test_missing_and_empty_video_folders_are_named(tmp_path):
    missing = tmp_path / "nowhere"
    proc = snakemake(_config(tmp_path / "a", {"me": {"videos": str(missing)}}), "--dry-run", check=False)
    assert proc.returncode != 0 and str(missing) in proc.output and "does not exist" in proc.output
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no videos here")
    proc = snakemake(_config(tmp_path / "b", {"me": {"videos": str(empty)}}), "--dry-run", check=False)
    assert proc.returncode != 0 and str(empty) in proc.output and "no video files" in proc.output


def test_corrupt_video_fails_naming_it_and_leaves_nothing(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    bad = videos / "broken.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    work = _config(tmp_path / "work", {"me": {"videos": str(videos)}})
    proc = snakemake(work, "results/me/fps/broken.mp4", check=False)
    assert proc.returncode != 0 and "broken.mp4" in proc.output
    assert not list((work / "results").rglob("broken*")) if (work / "results").exists() else True


def test_silent_video_without_audio_track_fails(tmp_path):
    from sdt.media import ffmpeg_exe

    videos = tmp_path / "videos"
    videos.mkdir()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
                    "-pix_fmt", "yuv420p", str(videos / "mute.mp4")], check=True)
    work = _config(tmp_path / "work", {"me": {"videos": str(videos)}})
    proc = snakemake(work, "results/me/fps/mute.mp4", check=False)
    assert proc.returncode != 0 and "mute.mp4" in proc.output and "audio" in proc.output


def test_config_file_is_valid_yaml_with_comments():
    from workflow_helpers import REPO

    text = (REPO / "config" / "config.yaml").read_text()
    assert yaml.safe_load(text)["speakers"] and text.count("#") > 40
