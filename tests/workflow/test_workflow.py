"""The real workflow, end to end, on a small sample speaker (2 videos x 14 s, tiny training preset):
one full run shared by the module, then what a rerun would do after each kind of change (dry runs), and the
errors a user gets from bad configs and inputs.  Everything runs real snakemake, ffmpeg and MediaPipe."""

import contextlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import REPO, SMALL_CONFIG, copy_workflow, make_workdir, planned_jobs, planned_models, snakemake

from sdt.media import probe
from sdt.poses import load_stats

pytestmark = pytest.mark.slow

VIDEOS = ["sample00", "sample01"]
PER_VIDEO = ["make_sample_video", "change_fps", "extract_frames", "detect_keypoints", "remove_outliers",
             "rescale_shoulders", "generate_clips"]
# Every rule downstream of generate_clips (per speaker): what a changed clip parameter may rerun.
AFTER_CLIPS = {"generate_clips", "split_dataset", "compute_stats", "qc_table", "train_pose_vae", "train_generator",
               "train_audio2body", "train_moglow", "evaluate", "paper_tables", "demo", "render_clips", "plot_training",
               "plot_templates", "all"}
METHODS = SMALL_CONFIG["evaluate"]["methods"]
GENERATORS = sorted(["s2g", "sdt_bp", "sdt_vae", "no_template"])  # the U-Net methods of the run


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
    # every window generate_clips planned is a clip or dropped for one of the reasons it records
    dropped = per_video["dropped_invalid"] + per_video["dropped_audio"]
    assert (per_video["windows_total"] == per_video["clips"] + dropped).all()
    # the release's windows: range(skip, T - 64, stride), T = 14 s x 15 fps
    skip, stride = SMALL_CONFIG["dataset"]["skip_frames"], 5
    assert (per_video["windows_total"] == len(range(skip, 14 * 15 - 64, stride))).all()


def test_extracted_frames_are_temporary(run):
    assert not (run["workdir"] / "results" / "sample" / "frames" / "sample00").exists()


def test_models_tables_and_demo(run):
    work = run["workdir"] / "results"
    for method in ("pose_vae", *METHODS):
        assert (work / "sample" / "models" / f"{method}.pt").stat().st_size > 50_000
        history = pd.read_csv(work / "sample" / "train" / method / "history.csv")
        assert len(history) == 2 and np.isfinite(history.select_dtypes("number").to_numpy()).all()
        if method != "pose_vae":  # validated every epoch with the pose VAE (train.validate_ftd)
            assert {"val_L2", "val_lip_sync_error", "val_FTD", "val_FTD_mu_logvar"} <= set(history), method
    s2g = json.loads((work / "sample" / "evaluation" / "s2g.json").read_text())
    assert s2g["ftd_input"] == "release" and s2g["FTD"] == s2g["FTD_release"] != s2g["FTD_parted"]
    note = "FTD of global-pose models (Speech2Gesture): the release's"
    assert note in (work / "tables" / "paper_tables.md").read_text()
    table = pd.read_csv(work / "tables" / "evaluations.csv")
    row = table.set_index("method").loc["s2g"]  # the table of every evaluation: one FTD space, the release's beside
    assert (row["FTD"], row["FTD_release"]) == pytest.approx((s2g["FTD_parted"], s2g["FTD_release"]))
    assert set(METHODS) | {"ground_truth", "mean_pose"} == set(table["method"])
    truth = table[table["method"] == "ground_truth"].iloc[0]
    assert truth["L2"] == 0 and abs(truth["FTD"]) < 1e-3 and 0 <= truth["BC"] <= 1 and truth["L1div"] > 0
    assert (table[table["method"] != "ground_truth"]["L2"] > 0).all()
    assert table.set_index("method").loc["moglow_small", "diversity"] > 0  # MoGlow samples its latent
    metrics = json.loads((work / "sample" / "evaluation" / "sdt_vae.json").read_text())
    assert metrics["n_clips"] == table[table["method"] == "sdt_vae"].iloc[0]["n_clips"]
    demo = probe(work / "sample" / "demo" / "sdt_vae.mp4")
    assert demo["has_audio"] and demo["duration"] > 1


def test_the_papers_three_tables_beside_the_published_numbers(run):
    """Every row of Tables 1-3 with the paper's values; the project's where this run evaluated the method."""
    tables = run["workdir"] / "results" / "tables"
    cells = pd.read_csv(tables / "paper_tables.csv")
    published = pd.read_csv(REPO / "config" / "published" / "paper_results.csv")
    assert cells["paper"].notna().sum() == published[["L2", "lip_sync_error", "FTD"]].notna().sum().sum()
    ran = cells[cells["status"] == "run"]
    assert set(ran["speaker"]) == {"sample"} and set(cells["speaker"]) == {"sample", "oliver", "kubinec", "xing",
                                                                           "luo"}
    assert {(t, m) for t, m in zip(ran["table"], ran["method"], strict=True)} == {
        (1, "no_template"), (1, "sdt_bp"), (1, "sdt_vae"), (2, "audio2body"), (2, "s2g"), (2, "sdt_bp"),
        (2, "sdt_vae"), (3, "no_template")}
    assert np.isfinite(ran["value"]).all() and (cells[cells["status"] == "not run"]["value"].isna()).all()
    md = (tables / "paper_tables.md").read_text()
    assert all(f"## Table {t}:" in md for t in (1, 2, 3)) and "not run (paper 2.28)" in md  # MoGlow on Oliver
    assert "(paper" in (tables / "paper_tables.html").read_text()


def test_html_report(run):
    report = run["workdir"] / "report.html"
    snakemake(run["workdir"], "--report", str(report), snakefile=run["snakefile"])
    text = report.read_text(errors="replace")
    assert "paper_tables" in text and "evaluations" in text and "qc" in text


# --- rerunning only what is stale ---------------------------------------------------------------------------

def test_second_run_does_nothing(run):
    assert plan(run) == {}


def test_clip_parameter_reruns_from_generate_clips(run):
    jobs = changed(run, dataset={"clip_stride": 6})
    assert jobs.get("generate_clips") == len(VIDEOS)
    assert set(jobs) <= AFTER_CLIPS, set(jobs) - AFTER_CLIPS
    assert {"split_dataset", "compute_stats", "train_generator", "train_moglow", "paper_tables"} <= set(jobs)


def test_new_video_reruns_only_its_chain(run):
    jobs = changed(run, sample={"videos": 3})
    for rule in PER_VIDEO:
        assert jobs.get(rule) == 1, (rule, jobs)
    assert {"split_dataset", "compute_stats", "qc_table"} <= set(jobs)


def models_after(run, *args):
    return planned_models(run["workdir"], *args, snakefile=run["snakefile"])


def test_training_setting_reruns_only_the_methods_that_use_it(run):
    path = run["workdir"] / "config" / "change.yaml"
    for change, want in [
        ({"train": {"template_kl_weight": 0.2}}, {"train_generator": ["sdt_bp"]}),  # learned templates only
        # the pose VAE: sdt_vae's templates are its means, and every method's validation computes FTD with it
        ({"train": {"vae_kl_weight": 0.2}}, {"train_pose_vae": ["pose_vae"], "train_generator": GENERATORS,
                                              "train_audio2body": ["audio2body"], "train_moglow": ["moglow_small"]}),
        ({"methods": {"moglow_small": {"family": "moglow", "net": {"hidden": 16, "n_steps": 2, "n_lstm_layers": 1}}}},
         {"train_moglow": ["moglow_small"]}),  # a method's definition: that method
    ]:
        path.write_text(yaml.safe_dump(change))
        assert models_after(run, "--configfile", str(path)) == want, change
    jobs = changed(run, train={"template_kl_weight": 0.2})
    assert not set(PER_VIDEO) & set(jobs) and "split_dataset" not in jobs


@pytest.mark.parametrize(("code", "want"), [
    ("models/moglow.py", {"train_moglow": ["moglow_small"]}),
    ("sdt/families/audio2body.py", {"train_audio2body": ["audio2body"]}),
    ("sdt/families/unet.py", {"train_generator": GENERATORS}),
])
def test_a_familys_code_reruns_that_family_only(run, code, want):
    path = run["snakefile"].parent / code
    text = path.read_text()
    path.write_text(text + "\n# an edit\n")
    try:
        assert models_after(run) == want
    finally:
        path.write_text(text)
    assert plan(run) == {}


@contextlib.contextmanager
def edited(run, code):
    """``code`` (a path in the private copy) with a comment appended, newer and different (the script's mtime, the
    module's content); restored afterwards."""
    path = run["snakefile"].parent / code
    text, stat = path.read_text(), path.stat()
    path.write_text(text + "\n# an edit\n")
    later = time.time() + 5  # mtime resolution is coarse on some file systems
    os.utime(path, (later, later))
    try:
        yield
    finally:
        path.write_text(text)
        os.utime(path, (stat.st_atime, stat.st_mtime))


@pytest.mark.parametrize(("code", "rule"), [
    ("workflow_scripts/generate_clips.py", "generate_clips"),  # the step's script
    ("sdt/dataset/generate_clips.py", "generate_clips"),  # the importable code it runs
    ("sdt/dataset/detect_keypoints.py", "detect_keypoints"),
])
def test_edited_code_reruns_its_step(run, code, rule):
    with edited(run, code):
        jobs = plan(run)
    assert jobs.get(rule) == len(VIDEOS), jobs
    upstream = set(PER_VIDEO[:PER_VIDEO.index(rule)]) - {"extract_frames"}  # temporary frames are made again
    assert not upstream & set(jobs)
    assert plan(run) == {}  # restored: nothing to do again


# The steps whose script imports models/blocks.py (the conv-norm-activation block, Standardize), directly or through
# other modules: every step that builds a network, of every family.  Downstream of them: the tables (evaluations) and
# the training curves (histories).
IMPORT_BLOCKS = {"train_pose_vae", "train_generator", "train_audio2body", "train_moglow", "evaluate", "demo",
                 "render_clips", "plot_templates"}


@pytest.mark.parametrize(("code", "expected"), [
    ("models/blocks.py", IMPORT_BLOCKS | {"paper_tables", "plot_training", "all"}),
    ("sdt/plan/speakers.py", set()),  # the plan's (the rules' decisions): no step runs it
])
def test_edited_shared_module_reruns_exactly_its_importers(run, code, expected):
    with edited(run, code):
        jobs = plan(run)
    assert set(jobs) == expected, set(jobs) ^ expected
    want = {"train_generator": len(GENERATORS), "evaluate": len(METHODS) + 2}  # + the two reference rows
    assert all(n == want.get(r, 1) for r, n in jobs.items()), jobs


def test_speed_only_settings_rerun_nothing(run):
    assert changed(run, train={"num_workers": 2, "checkpoint_every": 5}) == {}
    # the same as a nested --config override, which is typed by the schema and validates
    assert plan(run, "--config", 'train={"num_workers": 2, "checkpoint_every": 5}') == {}


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
    assert proc.returncode != 0 and "broken.mp4" in proc.output and "unreadable or corrupt video" in proc.output
    made = [p for p in work.glob("results/**/broken*") if p.parent.name != "source"]  # source/: the link to it
    assert made == [] and list(work.glob("results/**/.*")) == []
    log = (work / "logs" / "change_fps" / "me" / "broken.log").read_text()  # the error is in the job's log too
    assert "unreadable or corrupt video" in log and "broken.mp4" in log and "Traceback" in log


def test_silent_video_without_audio_track_fails(tmp_path):
    from sdt.media import ffmpeg_exe

    videos = tmp_path / "videos"
    videos.mkdir()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
                    "-pix_fmt", "yuv420p", str(videos / "mute.mp4")], check=True)
    work = _config(tmp_path / "work", {"me": {"videos": str(videos)}})
    proc = snakemake(work, "results/me/fps/mute.mp4", check=False)
    assert proc.returncode != 0 and "mute.mp4" in proc.output and "audio" in proc.output


def test_config_file_is_valid_and_documents_every_key():
    """config/config.yaml passes the schema as it is, and every key in it is commented (on its line or just above)."""
    from workflow_helpers import REPO

    from sdt.plan.config import load

    text = (REPO / "config" / "config.yaml").read_text()
    load(yaml.safe_load(text), REPO)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s*[A-Za-z_]+:", line):
            above = lines[i - 1].strip() if i else ""
            assert "#" in line or above.startswith("#"), f"config.yaml line {i + 1} has no comment: {line}"


# --- the authors' data and checkpoints ------------------------------------------------------------------------------

def released_speaker(folder, n_train=4, n_dev=3):
    """A tiny folder in the release's format (docs/dataset.md §14): processed_137.csv + one npz per clip."""
    from release_fixture import COLUMNS, release_clip

    rows = []
    for i, label in enumerate(["train"] * n_train + ["dev"] * n_dev):
        release_clip(folder / "npz" / f"clip{i}.npz", i)
        rows.append([label, 80 + 70 * i, 144 + 70 * i, "v1", f"npz/clip{i}.npz", f"audio/{i}.wav", "v1.mp4", "oliver"])
    pd.DataFrame(rows, columns=COLUMNS).to_csv(folder / "processed_137.csv", index=False)
    return folder


def test_evaluating_the_authors_checkpoints_trains_nothing(tmp_path):
    """All four models of a released speaker given in evaluate.checkpoints: no training job; the demo, the dev-clip
    renderings and the template plot use those checkpoints; the demo speaks with dev clips (no espeak-ng)."""
    data = released_speaker(tmp_path / "oliver")
    checkpoints = {m: str(tmp_path / f"{m}.pth") for m in ("pose_vae", "s2g", "sdt_bp", "sdt_vae")}
    for path in checkpoints.values():
        Path(path).write_bytes(b"a checkpoint")  # a dry run only needs them to exist
    work = _config(tmp_path / "work", {"oliver": {"released": str(data)}}, train={"preset": "auto"},
                   evaluate={"checkpoints": {"oliver": checkpoints}})
    jobs = planned_jobs(work)
    assert not [r for r in jobs if r.startswith("train_")] and "plot_training" not in jobs
    assert {"pack_released", "compute_stats", "evaluate", "demo", "render_clips", "plot_templates",
            "dev_demo_audio"} <= set(jobs)
    assert "make_demo_audio" not in jobs  # no espeak-ng
    plan_text = snakemake(work, "--dry-run").output
    inputs = dict(re.findall(r"rule (\w+):\n\s+input: ([^\n]*)", plan_text))  # each rule's job (one of each here)
    for rule in ("demo", "render_clips", "plot_templates"):  # the released SDT-VAE and its templates' VAE
        assert checkpoints["sdt_vae"] in inputs[rule] and checkpoints["pose_vae"] in inputs[rule], rule
    assert checkpoints["sdt_bp"] in inputs["plot_templates"]
    assert "speaker oliver (released): training preset release: 100 epochs x all steps of 32 clips" in plan_text

    # a released SDT-VAE without its pose VAE (the source of its templates) stops at once
    del checkpoints["pose_vae"]
    work = _config(tmp_path / "work2", {"oliver": {"released": str(data)}},
                   evaluate={"checkpoints": {"oliver": checkpoints}})
    proc = snakemake(work, "--dry-run", check=False)
    assert proc.returncode != 0 and "gives sdt_vae but no pose_vae" in proc.output


# --- retraining and fine-tuning (last: they change the run) --------------------------------------------------

def test_fine_tuning_source_and_forcerun(run):
    """SDT-VAE fine-tuned from the run's SDT-BP model (train.init_from): it starts from those weights; then
    `--forcerun results/sample/models/sdt_bp.pt` trains SDT-BP again from the start (a finished run's checkpoint is
    no resume point) and, its model changed, the fine-tuned SDT-VAE is stale."""
    work = run["workdir"]
    tuned = work / "config" / "tuned.yaml"
    source = {"sample": {"sdt_vae": "results/sample/models/sdt_bp.pt"}}
    tuned.write_text(yaml.safe_dump({"train": {"init_from": source}}))
    assert "train_generator" in plan(run, f"--configfile={tuned}")  # a new input (--configfile=: one file)
    snakemake(work, "results/sample/models/sdt_vae.pt", f"--configfile={tuned}", snakefile=run["snakefile"])
    log = (work / "logs" / "train_generator" / "sample" / "sdt_vae.log").read_text()
    assert "fine-tuning from results/sample/models/sdt_bp.pt (ours sdt_bp): weights of netG" in log, log
    assert plan(run, f"--configfile={tuned}", "results/sample/models/sdt_vae.pt") == {}

    history = work / "results" / "sample" / "train" / "sdt_bp" / "history.csv"
    before, log_file = history.stat().st_mtime, work / "logs" / "train_generator" / "sample" / "sdt_bp.log"
    old_log = log_file.read_text()
    snakemake(work, "results/sample/models/sdt_bp.pt", "--forcerun", "results/sample/models/sdt_bp.pt",
              f"--configfile={tuned}",
              snakefile=run["snakefile"])
    log = log_file.read_text()
    log = log[len(old_log):] if log.startswith(old_log) else log  # this job's lines
    assert "resumed" not in log and "epoch 1 (" in log and "epoch 2 (" in log, log
    assert history.stat().st_mtime > before
    assert "train_generator" in plan(run, f"--configfile={tuned}", "results/sample/models/sdt_vae.pt")


def test_a_removed_video_leaves_the_dataset_even_under_mtime_triggers(run):
    """--rerun-triggers mtime sees no change of an input list: the speaker's manifest (results/sample/videos.txt,
    rewritten when its list changes) is what reruns split_dataset without the video."""
    work, fewer = run["workdir"], run["workdir"] / "config" / "fewer.yaml"
    fewer.write_text(yaml.safe_dump({"sample": {"videos": 1}}))
    snakemake(work, "results/sample/dataset/clips.csv", f"--configfile={fewer}", "--rerun-triggers", "mtime",
              snakefile=run["snakefile"])
    assert (work / "results" / "sample" / "videos.txt").read_text() == "sample00\n"
    assert set(pd.read_csv(work / "results" / "sample" / "dataset" / "clips.csv")["video_fn"]) == {"sample00.mp4"}
