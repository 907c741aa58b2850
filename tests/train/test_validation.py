"""Validation every epoch and videos while training (sdt/train/validate.py, sdt/train/videos.py), on tiny synthetic
clips with a pose VAE: an epoch's numbers are exactly what `evaluate` computes for that model, a global-pose
model gets FTD on both encoder inputs, the videos are there per epoch with their sound.

The clips' audio is cut to 0.5 s (the audio encoder resizes to 64 frames whatever the length; 8x cheaper)."""

from pathlib import Path

import pandas as pd
import pytest
from conftest import short_clips, train_settings

from sdt.evaluate.evaluate import evaluate
from sdt.media import probe
from sdt.train.train import train

CHECKED = ("L2", "lip_sync_error", "FTD", "FTD_mu_logvar", "PCK")


def settings(**overrides):
    return train_settings(**{"batch_size": 4, "max_steps_per_epoch": 1, "video_format": [], **overrides})


def run_training(method, clips, folder, ftd_vae=None, **overrides):
    out = {"model_out": str(folder / f"{method}.pt"), "history_out": str(folder / "history.csv"),
           "run_dir": str(folder)}
    run = train(method, clips, **out, settings=settings(**overrides), ftd_vae=ftd_vae, threads=2, progress=False)
    return run, out


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return short_clips(tmp_path_factory.mktemp("clips"), n_train=8, n_dev=5, seed=0)


@pytest.fixture(scope="module")
def pose_vae(clips, tmp_path_factory):
    folder = tmp_path_factory.mktemp("vae")
    return run_training("pose_vae", clips, folder, epochs=2, batch_size=4, max_steps_per_epoch=2, lr=1e-3)[1]


@pytest.fixture(scope="module")
def sdt_bp(clips, pose_vae, tmp_path_factory):
    """SDT-BP, 2 epochs of 1 step, FTD with the pose VAE, 1 training and 2 dev clips rendered per epoch (mp4 and
    TensorBoard)."""
    folder = tmp_path_factory.mktemp("sdt_bp")
    return run_training("sdt_bp", clips, folder, ftd_vae=pose_vae["model_out"], epochs=2, lr=1e-3,
                        video_format=["mp4", "tensorboard"], video_train_clips=1, video_dev_clips=2)


def evaluation(clips, pose_vae, method, model, out, **settings):
    return evaluate("synthetic", method, clips["dev_poses"], clips["stats"], pose_vae["model_out"], out,
                    dev_audio=clips["dev_audio"], model_path=model,
                    settings={"template": "random_train", "seeds": [0], "diversity_samples": 0, **settings},
                    threads=2, progress=False)


def test_history_equals_evaluate_for_the_same_model(sdt_bp, clips, pose_vae, tmp_path):
    run, out = sdt_bp
    history = pd.read_csv(out["history_out"])
    assert list(history["epoch"]) == [1, 2]
    assert {f"val_{m}" for m in CHECKED} <= set(history.columns) and "val_FTD_parted" not in history  # parted
    assert history[[f"val_{m}" for m in CHECKED]].notna().all().all()
    result = evaluation(clips, pose_vae, "sdt_bp", out["model_out"], tmp_path / "eval.json")
    last = history.iloc[-1]
    for m in CHECKED:
        assert last[f"val_{m}"] == pytest.approx(result[m], rel=1e-9, abs=1e-12), m
    assert history["val_FTD"].iloc[0] != history["val_FTD"].iloc[1]  # computed anew every epoch


def test_a_global_pose_model_has_ftd_on_both_inputs(clips, pose_vae, tmp_path):
    """Speech2Gesture validated on the parted input: val_FTD is FTD_parted, both are stored, and evaluate with the
    same choice gives the same numbers."""
    _, out = run_training("s2g", clips, tmp_path, ftd_vae=pose_vae["model_out"], epochs=1,
                          ftd_global_input="parted")
    last = pd.read_csv(out["history_out"]).iloc[-1]
    assert last["val_FTD"] == last["val_FTD_parted"] != last["val_FTD_release"]
    result = evaluation(clips, pose_vae, "s2g", out["model_out"], tmp_path / "eval.json", ftd_global_input="parted")
    for m in (*CHECKED, "FTD_release", "FTD_mu_logvar_release", "FTD_parted", "FTD_mu_logvar_parted"):
        assert last[f"val_{m}"] == pytest.approx(result[m], rel=1e-9, abs=1e-12), m


def test_videos_per_epoch_with_sound(sdt_bp):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, out = sdt_bp
    run_dir = Path(out["run_dir"]) / "videos"
    videos = sorted(run_dir.rglob("*.mp4"))
    assert [v.relative_to(run_dir).as_posix() for v in videos] == [
        f"epoch_00{e}/{name}" for e in (1, 2) for name in ("dev_00000.mp4", "dev_00004.mp4", "train_00000.mp4")]
    for video in videos:
        info = probe(video)
        assert info["has_audio"] and info["n_frames"] == 64 and abs(info["duration"] - 64 / 15) < 0.2, info
    events = EventAccumulator(str(run_dir.parent / "tensorboard"), size_guidance={"images": 0}).Reload()
    gifs = {tag: [e.step for e in events.Images(tag)] for tag in events.Tags()["images"]}
    assert gifs == {f"videos/{n}": [1, 2] for n in ("dev_00000", "dev_00004", "train_00000")}
    assert events.Images("videos/dev_00000")[0].encoded_image_string[:6] == b"GIF89a"


def test_validate_ftd_needs_a_pose_vae(clips, tmp_path):
    with pytest.raises(ValueError, match="validate_ftd is on but no pose VAE"):
        run_training("sdt_bp", clips, tmp_path, epochs=1)
