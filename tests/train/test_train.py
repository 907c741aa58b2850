"""sdt/train/train.py + sdt/train/engine.py on a synthetic clip set whose pose is a known function of the audio's
loudness (tests/synthetic.py's synthetic_clips): the real, full-size networks learn it; a killed run resumes to the very
weights of an uninterrupted one; a checkpoint alone rebuilds a working model; a non-finite loss stops training by
name.

The generator costs ~22 GFLOP per clip and step (forward + backward), so its runs here are a dozen steps of
batch 2-4 at a higher learning rate; the pose VAE (~25x cheaper) trains for 120 steps.
"""

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO, train_settings
from synthetic import synthetic_clips

from models.generator import SequenceGeneratorCNN
from sdt.checkpoint import load_checkpoint
from sdt.families import pose_vae as pose_vae_steps
from sdt.families import unet
from sdt.inference import load_gesture_model, load_pose_encoder
from sdt.methods import get
from sdt.poses import final_results, load_stats, to_121
from sdt.train import engine
from sdt.train.data import ClipBatches, EpochBatchSampler
from sdt.train.perf import FastMode, fast_mode, native_bf16
from sdt.train.run import Run
from sdt.train.train import train

N_TRAIN, N_DEV = 32, 4
THREADS = 1  # fixed, so runs in this process and in a subprocess compute the same sums in the same order


def settings(**overrides):
    """config.yaml's train section (the release's hyper-parameters) with ``overrides``; no FTD (no pose VAE) and
    no videos unless asked for (tests/train/test_validation.py)."""
    return train_settings(**{"validate_ftd": False, "video_format": [], **overrides})


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return synthetic_clips(tmp_path_factory.mktemp("clips"), n_train=N_TRAIN, n_dev=N_DEV, seed=0)


@pytest.fixture(scope="module")
def stats(clips):
    return load_stats(clips["stats"])


def mean_pose_l1(clips, stats, parted=True):
    """Validation L1 of always predicting the training split's mean (normalised) pose: what learning must beat."""
    train_poses = ClipBatches(clips["train_poses"], clips["train_audio"], stats, parted)[range(N_TRAIN)]["poses"]
    dev_poses = ClipBatches(clips["dev_poses"], clips["dev_audio"], stats, parted)[range(N_DEV)]["poses"]
    return (dev_poses - train_poses.mean(dim=(0, 1))).abs().mean().item()


def mean_pose_l2(clips, stats):
    """Validation L2 (px, final results) of always predicting the training split's mean pose."""
    truth = to_121(torch.from_numpy(np.load(clips["dev_poses"]))) * stats["scale_factor"]
    mean = to_121(torch.from_numpy(np.load(clips["train_poses"]))).mean(dim=(0, 1)) * stats["scale_factor"]
    return torch.linalg.norm(mean - truth, dim=-2).mean().item()


def run_training(method, clips, folder, pose_vae=None, init_from=None, **overrides):
    out = {"model_out": folder / f"{method}.pt", "history_out": folder / "history.csv", "run_dir": folder}
    run = train(method, clips, **{k: str(v) for k, v in out.items()}, settings=settings(**overrides),
                pose_vae=pose_vae, init_from=init_from, threads=THREADS, progress=False)
    return run, out


RUN_SCRIPT = """
import json, sys
from sdt.train.train import train
args = json.loads(sys.argv[1])
train(args["method"], args["data"], args["model_out"], args["history_out"], args["run_dir"], args["settings"],
      threads=args["threads"], progress=False)
"""


def start_training(method, clips, folder, run_settings):
    """sdt.train.train.train in a subprocess (single-threaded as here): returns the Popen and the output paths."""
    out = {"model_out": str(folder / f"{method}.pt"), "history_out": str(folder / "history.csv"),
           "run_dir": str(folder)}
    args = {"method": method, "data": clips, **out, "settings": run_settings, "threads": THREADS}
    proc = subprocess.Popen([sys.executable, "-c", RUN_SCRIPT, json.dumps(args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, out


@pytest.fixture(scope="module")
def pose_vae_job(clips, tmp_path_factory):
    """The pose VAE, 30 epochs of 4 steps of 8 clips (lr 1e-3, no decay), in a subprocess: it trains on the
    second core while the generator trains in this process (~15 s each on a free core)."""
    proc, out = start_training("pose_vae", clips, tmp_path_factory.mktemp("pose_vae"),
                               settings(epochs=30, batch_size=8, lr=1e-3, lr_milestones=[], checkpoint_every=100))
    yield proc, out
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


@pytest.fixture(scope="module")
def pose_vae(pose_vae_job):
    proc, out = pose_vae_job
    output = proc.communicate(timeout=900)[0]
    assert proc.returncode == 0, output
    return {k: Path(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def sdt_bp(clips, tmp_path_factory, pose_vae_job):  # pose_vae_job: the VAE starts first, to train alongside
    """SDT-BP, full-size generator: 3 epochs of 4 steps of 4 clips (lr 1e-3, no decay)."""
    folder = tmp_path_factory.mktemp("sdt_bp")
    run, out = run_training("sdt_bp", clips, folder, epochs=3, batch_size=4, max_steps_per_epoch=4, lr=1e-3,
                            lr_milestones=[], checkpoint_every=100)
    return run, out


def test_generator_learns_the_pose_from_the_loudness(sdt_bp, clips, stats):
    run, out = sdt_bp
    history = pd.read_csv(out["history_out"])
    assert history["epoch"].tolist() == [1, 2, 3] and history["step"].tolist() == [4, 8, 12]
    baseline = mean_pose_l2(clips, stats)
    assert history["val_L2"].iloc[-1] < 0.7 * baseline, (history["val_L2"].tolist(), baseline)
    assert history["val_L2"].iloc[-1] < history["val_L2"].iloc[0]
    assert np.isfinite(history[["loss", "l1", "val_L2", "val_lip_sync_error"]].to_numpy()).all()
    assert run.templates.abs().sum() > 0  # the zero-initialised template table trained as well


def test_pose_vae_learns_to_reconstruct(pose_vae, clips, stats):
    out = pose_vae
    history = pd.read_csv(out["history_out"])
    assert len(history) == 30 and history["step"].iloc[-1] == 120
    baseline = mean_pose_l1(clips, stats)
    assert history["val_l1"].iloc[-1] < 0.5 * baseline, (history["val_l1"].tolist(), baseline)
    assert history["val_l1"].iloc[-1] < 0.5 * history["val_l1"].iloc[0]
    mu = load_checkpoint(out["model_out"])["buffers"]["clip_code_mu"]  # SDT-VAE's templates, one per clip
    assert mu.shape == (N_TRAIN, 32) and (mu.abs().sum(dim=1) > 0).all()


def test_a_checkpoint_alone_rebuilds_the_generator(sdt_bp, clips, stats):
    run, out = sdt_bp
    ckpt = load_checkpoint(out["model_out"])
    assert "optimizers" not in ckpt and ckpt["method"] == "sdt_bp" and ckpt["epoch"] == 3
    model = load_gesture_model(out["model_out"])
    assert model.template_dim == 32 and model.templates.shape == (N_TRAIN, 32)
    dev = ClipBatches(clips["dev_poses"], clips["dev_audio"], stats)[range(N_DEV)]
    templates = model.templates[[0, 5, 9, 15]]
    pred = model.predict(dev["audio"], templates)
    assert pred.shape == (N_DEV, 64, 2, 121) and torch.isfinite(pred).all()
    assert torch.equal(model.predict(dev["audio"], templates), pred)  # deterministic
    torch.testing.assert_close(model.predict(dev["audio"][2:3], templates[2:3]), pred[2:3], atol=1e-3, rtol=1e-4)
    with torch.no_grad():  # the very network that trained, through the training run's own statistics
        want = final_results(run.nets["netG"].eval()(run.features(dev["audio"]), templates), run.stats_t, True)
    torch.testing.assert_close(pred, want, atol=1e-3, rtol=1e-4)
    # final results are px on the speaker's scale, and closer to the truth than the mean pose
    truth = to_121(torch.from_numpy(np.load(clips["dev_poses"]))) * stats["scale_factor"]
    mean = to_121(torch.from_numpy(np.load(clips["train_poses"]))).mean(dim=(0, 1)) * stats["scale_factor"]
    err = torch.linalg.norm(pred - truth, dim=-2).mean()
    assert err < 0.7 * torch.linalg.norm(mean - truth, dim=-2).mean()


def test_sdt_vae_trains_on_the_pose_vae_templates(pose_vae, clips, small_clips, tmp_path):
    mu = load_checkpoint(pose_vae["model_out"])["buffers"]["clip_code_mu"]
    run, out = run_training("sdt_vae", clips, tmp_path / "run", pose_vae=str(pose_vae["model_out"]), epochs=1,
                            batch_size=2, max_steps_per_epoch=1)
    assert torch.equal(run.templates, mu) and torch.equal(load_gesture_model(out["model_out"]).templates, mu)
    with pytest.raises(ValueError, match="holds 32 templates but the training split has 6 clips"):
        run_training("sdt_vae", small_clips, tmp_path / "other", pose_vae=str(pose_vae["model_out"]))


def test_a_checkpoint_alone_rebuilds_the_pose_encoder(pose_vae, clips, stats):
    encoder = load_pose_encoder(pose_vae["model_out"])
    truth = to_121(torch.from_numpy(np.load(clips["dev_poses"]))) * stats["scale_factor"]
    mu, logvar = encoder.encode_final(truth)
    assert mu.shape == logvar.shape == (N_DEV, 32) and torch.isfinite(mu).all()
    assert torch.equal(encoder.encode_final(truth)[0], mu)


def kill_after_first_checkpoint(method, clips, folder, run_settings):
    """Start a training run in a subprocess and a thread that SIGKILLs it as soon as last.pt appears."""
    proc, _ = start_training(method, clips, folder, run_settings)
    last = folder / "checkpoints" / "last.pt"

    def watch():
        deadline = time.monotonic() + 600
        while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return proc, watcher


@pytest.fixture(scope="module")
def small_clips(tmp_path_factory):
    return synthetic_clips(tmp_path_factory.mktemp("small"), n_train=6, n_dev=1, seed=2)


@pytest.mark.parametrize("method", ["pose_vae", "sdt_bp"])
def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(method, small_clips, tmp_path, caplog):
    """SIGKILL once the first checkpoint exists (mid epoch 2 of 3), rerun: the same final weights, bit for bit.

    The VAE draws noise every step (the RNG state must come back); SDT-BP has two optimisers and a template
    table; the learning rate steps down after epoch 1.  A rerun from scratch would give the same weights too, so
    the test also checks that it resumed.  The run to be killed and the uninterrupted one share the 2 cores."""
    run_settings = settings(epochs=3, batch_size=2, max_steps_per_epoch=2, lr=1e-3, lr_milestones=[-2])
    folder = tmp_path / "killed"
    proc, watcher = kill_after_first_checkpoint(method, small_clips, folder, run_settings)
    whole, _ = run_training(method, small_clips, tmp_path / "whole", **run_settings)
    watcher.join()
    output = proc.communicate()[0]
    last = folder / "checkpoints" / "last.pt"
    assert last.exists(), output
    assert not (folder / f"{method}.pt").exists(), "the run ended before it was killed"
    killed = load_checkpoint(last)
    assert killed["epoch"] == 1 and len(killed["history"]) == 1

    with caplog.at_level(logging.INFO, logger="sdt.train.train"):
        resumed, _ = run_training(method, small_clips, folder, **run_settings)
    assert "resumed from" in caplog.text and "after epoch 1" in caplog.text
    assert resumed.history[0] == killed["history"][0]  # epoch 1 came from the checkpoint, not a rerun
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]

    for name, net in whole.nets.items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, resumed.nets[name].state_dict()[key]), f"{name}.{key}"
    for key, value in whole.buffers.items():
        assert torch.equal(value, resumed.buffers[key]), key
    if method == "sdt_bp":
        assert torch.equal(whole.templates, resumed.templates)
    final = load_checkpoint(tmp_path / "killed" / f"{method}.pt")
    assert final["epoch"] == 3 and final["step"] == whole.step


def test_a_non_finite_loss_stops_training_naming_epoch_and_step(tmp_path):
    """NaN audio in one clip of the second batch of epoch 1: Speech2Gesture's generator loss turns NaN there."""
    data = synthetic_clips(tmp_path / "clips", n_train=4, n_dev=1, seed=1)
    sampler = EpochBatchSampler(4, 2, seed=0)
    sampler.set_epoch(1)
    bad = list(sampler)[1][0]
    audio = np.load(data["train_audio"])
    audio[bad, 1000:2000] = np.nan
    np.save(data["train_audio"], audio)
    with pytest.raises(engine.NonFiniteLoss, match=r"non-finite s2g generator loss \(nan\) at epoch 1, step 2"):
        run_training("s2g", data, tmp_path / "run", epochs=1, batch_size=2, seed=0)
    assert not (tmp_path / "run" / "s2g.pt").exists() and not (tmp_path / "run" / "checkpoints").exists()


def test_gan_weight_scales_both_speech2gesture_losses(clips, stats):
    """The method's adversarial weight: 0 = no discriminator (the Table 3 BN row), > 0 = the discriminator trains
    with its loss scaled by the weight (the release's LAMBDA_GAN on both losses)."""
    batch = ClipBatches(clips["train_poses"], clips["train_audio"], stats, parted=False)[[0, 1]]
    moved, d_loss = {}, {}
    for weight in (0.0, 0.1, 0.2):
        torch.manual_seed(0)
        run = Run(get("s2g").replace(gan_weight=weight), settings(), stats, N_TRAIN, torch.device("cpu"))
        run.train_mode(True)
        before = {k: {n: p.detach().clone() for n, p in net.named_parameters()} for k, net in run.nets.items()}
        logs = unet.step(run, batch)
        assert np.isfinite(list(logs.values())).all()
        d_loss[weight] = logs.get("d_loss")
        moved[weight] = {k: any(not torch.equal(p, before[k][n]) for n, p in net.named_parameters())
                         for k, net in run.nets.items()}
    assert moved == {0.0: {"netG": True}, 0.1: {"netG": True, "netD": True}, 0.2: {"netG": True, "netD": True}}
    assert d_loss[0.0] is None and d_loss[0.2] == pytest.approx(2 * d_loss[0.1], rel=0.05)


def test_fast_mode_is_bf16_only_where_the_hardware_has_it():
    assert fast_mode("cpu", False) == FastMode()
    on_cpu = fast_mode("cpu", True)
    assert on_cpu == (FastMode(torch.bfloat16, channels_last=True, fused=True) if native_bf16("cpu")
                      else FastMode(fused=True))
    assert not on_cpu.compile  # compiling on a CPU costs minutes for a few per cent


def test_fast_mode_steps_and_checkpoints_as_plain_fp32(clips, stats):
    """bf16 autocast and a channels-last audio encoder, forced: losses stay fp32 and finite, and the weights
    load into plain modules (the pose VAE in bf16: cheap even where bf16 is emulated)."""
    run = Run("pose_vae", settings(), stats, N_TRAIN, torch.device("cpu"))
    run.apply_fast_mode(FastMode(torch.bfloat16, channels_last=True))
    run.train_mode(True)
    batch = ClipBatches(clips["train_poses"], clips["train_audio"], stats)[[0, 1, 2]]
    logs = pose_vae_steps.step(run, batch)
    assert np.isfinite(list(logs.values())).all()

    torch.manual_seed(0)
    bp = Run("sdt_bp", settings(), stats, N_TRAIN, torch.device("cpu"))
    plain = SequenceGeneratorCNN(bp.nets["netG"].cfg)
    plain.load_state_dict(bp.nets["netG"].state_dict())
    bp.apply_fast_mode(FastMode(None, channels_last=True))
    weight = bp.nets["netG"].audio_encoder.specgram_encoder_2d[1][0].conv.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    mel, tpl = bp.features(batch["audio"][:1]), torch.randn(1, 32)
    with torch.no_grad():
        torch.testing.assert_close(bp.nets["netG"].eval()(mel, tpl), plain.eval()(mel, tpl), atol=1e-4, rtol=1e-4)
    fresh = SequenceGeneratorCNN(bp.nets["netG"].cfg)
    fresh.load_state_dict(bp.nets["netG"].state_dict())
    assert all(torch.equal(p, q) for p, q in zip(fresh.parameters(), plain.parameters(), strict=True))


# --- fine-tuning (train.init_from) ----------------------------------------------------------------------------

def first_step_l1(run):
    return run.history[0]["l1"]  # one step per epoch: the loss of the very first step


def test_fine_tuning_starts_from_the_source_weights(sdt_bp, tmp_path):
    """Speaker A's trained SDT-BP fine-tuned on speaker B (other clips of the same person): its first step's loss is
    far below a fresh start's, the optimisers and the template table start fresh, and the model records the
    source."""
    _, out_a = sdt_bp
    speaker_b = synthetic_clips(tmp_path / "b", n_train=8, n_dev=2, seed=0, clips_seed=7)
    one_step = {"epochs": 1, "batch_size": 4, "max_steps_per_epoch": 1}
    fresh, _ = run_training("sdt_bp", speaker_b, tmp_path / "fresh", **one_step)
    tuned, out = run_training("sdt_bp", speaker_b, tmp_path / "tuned", init_from=str(out_a["model_out"]), **one_step)
    assert first_step_l1(tuned) < 0.6 * first_step_l1(fresh), (first_step_l1(tuned), first_step_l1(fresh))
    model = load_checkpoint(out["model_out"])
    info = model["init_from"]
    assert info["path"] == str(out_a["model_out"]) and info["format"] == "ours" and info["networks"] == ["netG"]
    assert info["templates"] == "new" and model["templates"].shape == (8, 32)
    assert load_checkpoint(out_a["model_out"])["templates"].shape == (N_TRAIN, 32)
    assert tuned.step == 1  # counters (and optimisers, schedules) start fresh


def release_pth(ckpt, path):
    """Our SDT-BP checkpoint in the authors' layout (docs/networks.md §4: DataParallel's module. prefix)."""
    state = {f"module.netG.{k}": v for k, v in ckpt["state_dicts"]["netG"].items()}
    state["module.clips_code"] = ckpt["templates"]
    torch.save({"epoch": 100, "step": 1, "model_state_dict": state, "optimizerG_state_dict": {}}, path)
    return path


def test_fine_tuning_from_an_authors_checkpoint(sdt_bp, stats, tmp_path):
    """An authors' .pth initialises the generator; init_templates takes its table over when it has one row per
    training clip, and is an error naming both shapes otherwise; a network of another kind is refused."""
    from sdt.errors import InputError
    from sdt.train.init_from import init_from

    _, out_a = sdt_bp
    source = load_checkpoint(out_a["model_out"])
    pth = release_pth(source, tmp_path / "oliver_sdt_bp.pth")
    run = Run("sdt_bp", settings(init_templates=True), stats, N_TRAIN, torch.device("cpu"))
    info = init_from(run, pth)
    assert info["format"] == "release" and info["templates"] == "taken over"
    for key, value in source["state_dicts"]["netG"].items():
        assert torch.equal(run.nets["netG"].state_dict()[key], value), key
    assert torch.equal(run.templates.detach(), source["templates"])
    other = Run("sdt_bp", settings(init_templates=True), stats, N_TRAIN + 1, torch.device("cpu"))
    with pytest.raises(InputError, match=r"a table of shape \(32, 32\), this run's table is \(33, 32\)"):
        init_from(other, pth)
    s2g = Run("s2g", settings(), stats, N_TRAIN, torch.device("cpu"))
    with pytest.raises(InputError, match="its netG is another network: template_dim 32 .needs 0., norm 'IN'"):
        init_from(s2g, out_a["model_out"])


# --- what a checkpoint resumes (issue 9) ---------------------------------------------------------------------

def test_only_an_interrupted_run_resumes(small_clips, tmp_path, caplog):
    """A finished run leaves no resume point: running the same job again (--forcerun, a new code digest with the
    same settings) trains again from the start."""
    quick = {"epochs": 1, "batch_size": 2, "max_steps_per_epoch": 1}
    run_training("pose_vae", small_clips, tmp_path, **quick)
    assert not (tmp_path / "checkpoints" / "last.pt").exists()
    with caplog.at_level(logging.INFO, logger="sdt.train.train"):
        again, _ = run_training("pose_vae", small_clips, tmp_path, **quick)
    assert "resumed" not in caplog.text and "epoch 1 (" in caplog.text and again.step == 1


def test_the_fingerprint_covers_what_decides_the_result(small_clips, tmp_path):
    """Code, every input file's content (audio too) and the result-deciding settings change it; speed-only
    settings (workers, checkpoint interval, videos) do not, nor does the number of processes (not an input)."""
    import shutil

    from sdt.train.config import TrainSettings
    from sdt.train.train import run_fingerprint

    base = TrainSettings.of(settings())

    def fp(code="abc", files=small_clips, **changes):
        return run_fingerprint("sdt_bp", TrainSettings.of({**base.as_dict(), **changes}), files, code)

    same = {fp(), fp(num_workers=4), fp(checkpoint_every=7), fp(video_format=["mp4", "tensorboard"]),
            fp(video_train_clips=0, video_dev_clips=1)}
    assert len(same) == 1
    changed = [fp(code="abd"), fp(lr=2e-4), fp(drop_last=False), fp(sync_bn=True), fp(validate_ftd=True),
               fp(files={**small_clips, "init_from": small_clips["stats"]})]
    audio = tmp_path / "train_audio.npy"
    shutil.copy(small_clips["train_audio"], audio)
    arr = np.load(audio)
    arr[0, 0] += 1e-3
    np.save(audio, arr)
    changed.append(fp(files={**small_clips, "train_audio": str(audio)}))
    assert len({fp(), *changed}) == len(changed) + 1
