"""Every network family through the same training loop (sdt.train.train.train), checkpoint and prediction interface
(sdt.inference, sdt.evaluate.evaluate): Audio to Body Dynamics and MoGlow learn the synthetic clip set's pose from
its loudness (tests/synthetic.py), the frame-wise SDT-BP trains its [N, 32, 64] table, and each trained model is
evaluated like every other method.  The baselines are narrowed (``net:`` overrides of the method) so that a run
takes seconds; their full-size counts and maths are tested in test_baselines.py and test_methods.py."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import train_settings
from synthetic import synthetic_clips

from sdt.checkpoint import load_checkpoint
from sdt.demo.demo import demo_poses, frame_count
from sdt.evaluate.evaluate import evaluate
from sdt.evaluate.metrics import METRICS
from sdt.inference import load_gesture_model
from sdt.methods import Method
from sdt.train.data import ClipBatches
from sdt.train.run import build_networks
from sdt.train.train import train

N_TRAIN, N_DEV = 16, 4
AUDIO2BODY = Method("a2b_small", family="audio2body", net={"hidden": 64})
MOGLOW = Method("moglow_small", family="moglow", net={"hidden": 32, "n_steps": 3, "n_lstm_layers": 1})


def settings(**overrides):
    """No videos; validation's FTD with the pose VAE below is asked for by the runs that have one."""
    return train_settings(**{"lr_milestones": [], "checkpoint_every": 100, "video_format": [], "validate_ftd": False,
                             **overrides})


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return synthetic_clips(tmp_path_factory.mktemp("clips"), n_train=N_TRAIN, n_dev=N_DEV, seed=3)


def run_training(method, clips, folder, **overrides):
    out = {"model_out": str(folder / "model.pt"), "history_out": str(folder / "history.csv"), "run_dir": str(folder)}
    run = train(method, clips, **out, settings=settings(**overrides), threads=1, progress=False)
    return run, out


@pytest.fixture(scope="module")
def pose_vae(clips, tmp_path_factory):
    """An untrained pose VAE (one step): FTD's encoder for the evaluations below."""
    _, out = run_training("pose_vae", clips, tmp_path_factory.mktemp("vae"), epochs=1, batch_size=4,
                          max_steps_per_epoch=1)
    return out["model_out"]


def evaluate_model(method, clips, model, pose_vae, path, **settings):
    return evaluate("synthetic", method, clips["dev_poses"], clips["stats"], pose_vae, path,
                    dev_audio=clips["dev_audio"], model_path=model, settings={"diversity_samples": 2, **settings},
                    threads=1, progress=False)


def dev_nll(net, clips, run):
    """MoGlow's held-out NLL (nats per pose value) on the dev clips."""
    dev = ClipBatches(clips["dev_poses"], clips["dev_audio"], run.stats, True)[range(N_DEV)]
    with torch.no_grad():
        return net.eval().nll(dev["poses"], run.features(dev["audio"])).item()


def fresh_moglow_nll(clips, run):
    """The dev NLL of the same MoGlow before training: initialised as training does (input statistics, ActNorm on
    the first batch)."""
    torch.manual_seed(0)
    net = build_networks(MOGLOW, run.settings)[0]["netG"]
    net.mel_norm.load_state_dict(run.nets["netG"].mel_norm.state_dict())
    first = ClipBatches(clips["train_poses"], clips["train_audio"], run.stats, True)[range(4)]
    net.train()(first["poses"], run.features(first["audio"]))
    return dev_nll(net, clips, run)


@pytest.mark.parametrize(("method", "epochs", "lr"), [(AUDIO2BODY, 12, 3e-3), (MOGLOW, 12, 1e-3)],
                         ids=["audio2body", "moglow"])
def test_baseline_learns_and_is_evaluated_like_every_method(method, epochs, lr, clips, pose_vae, tmp_path):
    run, out = run_training(method, clips, tmp_path / "run", epochs=epochs, batch_size=4, lr=lr)
    history = pd.read_csv(out["history_out"])
    loss = history["loss"].to_numpy()
    if method.family == "audio2body":  # squared error summed per frame; the validation L2 (px) of its prediction
        assert loss[-1] < 0.5 * loss[0], loss
        assert history["val_L2"].iloc[-1] < 0.7 * history["val_L2"].iloc[0], history["val_L2"].tolist()
    else:  # NLL in nats per pose value, on the training batches and on the held-out clips
        assert loss[-1] < loss[0] - 1.0, loss
        assert dev_nll(run.nets["netG"], clips, run) < fresh_moglow_nll(clips, run) - 0.2

    ckpt = load_checkpoint(out["model_out"])
    assert ckpt["definition"] == method.as_dict() and ckpt["method"] == method.name
    model = load_gesture_model(out["model_out"])
    audio = np.load(clips["dev_audio"])
    pred = model.predict(audio)
    assert pred.shape == (N_DEV, 64, 2, 121) and torch.isfinite(pred).all()
    with torch.no_grad():  # the network that trained, through its training run's statistics
        want = run.predict_normalised({"audio": torch.from_numpy(audio)}) if method.family == "audio2body" else None
    if want is not None:
        from sdt.poses import final_results

        torch.testing.assert_close(pred, final_results(want, run.stats_t, True), atol=1e-3, rtol=1e-4)

    result = evaluate_model(method, clips, out["model_out"], pose_vae, tmp_path / "eval.json", seeds=[0, 1])
    assert all(result[m] is not None and np.isfinite(result[m]) for m in METRICS if m != "BC"), result
    if method.family == "moglow":  # samples z: one evaluation per seed, K different samples per clip
        assert result["seeds"] == [0, 1] and result["diversity"] > 0
        assert result["per_seed"][0]["L2"] != result["per_seed"][1]["L2"]
        again = evaluate_model(method, clips, out["model_out"], pose_vae, tmp_path / "again.json", seeds=[1],
                               batch_size=3)  # the same z per clip whatever the batch
        assert again["per_seed"][0]["L2"] == pytest.approx(result["per_seed"][1]["L2"], rel=1e-5)
        cold = evaluate_model(method, clips, out["model_out"], pose_vae, tmp_path / "cold.json", temperature=0.0)
        assert cold["diversity"] == pytest.approx(0, abs=1e-6)  # temperature 0: every sample is z = 0
        # the demo: 6 s of speech in 64-frame windows, each window's z from (seed, window)
        speech = np.concatenate([audio[0], audio[1, :30000]])
        poses, titles, _ = demo_poses(model, speech, mode="template", seed=0)
        assert poses[0].shape == (frame_count(len(speech)), 2, 121) == (93, 2, 121) and titles == [method.name]
        assert np.array_equal(demo_poses(model, speech, mode="template", seed=0)[0][0], poses[0])
        assert not np.allclose(demo_poses(model, speech, mode="template", seed=1)[0][0], poses[0])
    else:  # draws nothing: evaluated once
        assert result["seeds"] == [] and result["diversity"] == 0


def test_frame_wise_templates_train_and_evaluate(clips, pose_vae, tmp_path):
    run, out = run_training("sdt_bp_frame", clips, tmp_path / "run", epochs=1, batch_size=4, max_steps_per_epoch=2,
                            lr=1e-3)
    assert run.templates.shape == (N_TRAIN, 32, 64) and run.templates.abs().sum() > 0
    history = pd.read_csv(out["history_out"])
    assert np.isfinite(history[["loss", "l1", "template_kl"]].to_numpy()).all()
    model = load_gesture_model(out["model_out"])
    assert model.templates.shape == (N_TRAIN, 32, 64)
    result = evaluate_model("sdt_bp_frame", clips, out["model_out"], pose_vae, tmp_path / "eval.json")
    assert result["diversity"] > 0 and np.isfinite(result["FTD"])
    truth = evaluate_model("sdt_bp_frame", clips, out["model_out"], pose_vae, tmp_path / "truth.json",
                           template="vae_of_truth", diversity_samples=0)  # the VAE's mu repeated over the frames
    assert np.isfinite(truth["L2"])
