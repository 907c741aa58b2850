"""sdt/evaluate/evaluate.py on tiny synthetic clips, with checkpoints in the real formats: ours (sdt.train.train.Run's
payload, what sdt.train.train.train writes) and the release's (docs/networks.md §4).  Networks are untrained: these
tests check the plumbing (reference rows, seeds, templates, JSON), the metrics themselves are checked in
test_metrics.py."""

import json

import numpy as np
import pytest
import release_fixture
import torch

from sdt import layout
from sdt.checkpoint import load_checkpoint, save_checkpoint
from sdt.dataset.compute_stats import compute_pose_stats, compute_stats, release_stats
from sdt.errors import InputError
from sdt.evaluate import metrics
from sdt.evaluate.evaluate import EvalSettings, evaluate, load_model, template_draws
from sdt.evaluate.metrics import METRICS
from sdt.io import save_npy, save_npz
from sdt.poses import load_stats, to_121, to_global
from sdt.train.run import Run

N_TRAIN, N_DEV = 8, 4
AUDIO_SAMPLES = 8000
SETTINGS = dict(epochs=1, batch_size=4, lr=1e-4, lr_milestones=[-10, -2], lr_gamma=0.1, seed=0, template_dim=32,
                template_kl_weight=0.1, vae_kl_weight=0.1, checkpoint_every=1, max_steps_per_epoch=1,
                fast=False, num_workers=0)


def synthetic_poses(rng, n):
    """[n, 64, 3, 137]: a person-sized point cloud that sways differently in every clip, confidence 1."""
    base = rng.uniform(300, 900, size=(1, 1, 2, 137))
    t = np.arange(64)[None, :, None, None]
    xy = base + 20 * np.sin(t / 5 + rng.uniform(0, 6, size=(n, 1, 2, 137))) + rng.normal(0, 2, (n, 64, 2, 137))
    return np.concatenate([xy, np.ones((n, 64, 1, 137))], axis=2).astype(np.float32)


@pytest.fixture(scope="module")
def speaker(tmp_path_factory):
    """Dev clips, stats.npz and the four checkpoints of one tiny speaker (untrained networks, seed 0)."""
    d = tmp_path_factory.mktemp("speaker")
    rng = np.random.default_rng(0)
    train, dev = synthetic_poses(rng, N_TRAIN), synthetic_poses(rng, N_DEV)
    save_npy(d / "dev_poses.npy", dev)
    # 0.5 s of audio per clip instead of 4.27 s: the audio encoder resizes its output to 64 frames whatever the
    # length, and each forward pass costs 8x less
    save_npy(d / "dev_audio.npy", rng.normal(0, 0.1, (N_DEV, AUDIO_SAMPLES)).astype(np.float32))
    save_npz(d / "stats.npz", **compute_pose_stats(train), scale_factor=np.float64(0.95),
             scale_rule=np.str_("released"), n_train_clips=np.int64(N_TRAIN))
    stats = load_stats(d / "stats.npz")
    torch.manual_seed(0)
    vae = Run("pose_vae", SETTINGS, stats, N_TRAIN, torch.device("cpu"))
    vae.buffers["clip_code_mu"].normal_()  # what training would have stored: every training clip's mean
    save_checkpoint(d / "pose_vae.pt", vae.payload(with_optimisers=False))
    fixed = vae.buffers["clip_code_mu"].numpy()
    for method in ("sdt_vae", "s2g"):
        run = Run(method, SETTINGS, stats, N_TRAIN, torch.device("cpu"), fixed if method == "sdt_vae" else None)
        save_checkpoint(d / f"{method}.pt", run.payload(with_optimisers=False))
    return d


def run_eval(d, method, settings=None, model=None, out="out.json", **kw):
    model = model or (d / f"{method}.pt" if method in ("sdt_vae", "s2g", "sdt_bp") else None)
    return evaluate("tiny", method, d / "dev_poses.npy", d / "stats.npz", kw.pop("pose_vae", d / "pose_vae.pt"),
                    d / out, dev_audio=d / "dev_audio.npy", model_path=model, settings=settings, threads=2,
                    progress=False, **kw)


def test_ground_truth_row_is_a_perfect_score(speaker):
    result = run_eval(speaker, "ground_truth", out="gt.json")
    written = json.loads((speaker / "gt.json").read_text())
    assert written == json.loads(json.dumps(result))  # JSON-clean (no NaN), all of it written
    assert set(METRICS) | {"n_clips", "seeds", "std", "per_seed", "checkpoints", "settings"} <= set(written)
    assert written["n_clips"] == N_DEV and written["seeds"] == [] and len(written["per_seed"]) == 1
    assert written["L2"] == 0 and written["lip_sync_error"] == 0 and written["PCK"] == 1
    assert written["FTD"] == pytest.approx(0, abs=1e-6) and written["FTD_mu_logvar"] == pytest.approx(0, abs=1e-6)
    assert written["diversity"] is None  # one sample per clip: no diversity
    vae = written["checkpoints"]["pose_vae"]
    assert vae["path"] == str(speaker / "pose_vae.pt") and len(vae["sha256"]) == 64
    assert written["checkpoints"]["model"] is None


def test_mean_pose_row(speaker):
    result = run_eval(speaker, "mean_pose", out="mean.json")
    stats = load_stats(speaker / "stats.npz")
    true = to_121(np.load(speaker / "dev_poses.npy")[:, :, :2]) * stats["scale_factor"]
    pred = np.broadcast_to(stats["mean_global"] * stats["scale_factor"], true.shape)
    assert result["L2"] == pytest.approx(metrics.l2(pred, true).mean(), rel=1e-5)
    assert result["PCK"] == pytest.approx(metrics.pck(pred, true).mean(), rel=1e-6)
    assert result["diversity"] == 0 and result["FTD"] > 0


def test_model_row_with_several_seeds(speaker):
    settings = {"seeds": [0, 1], "diversity_samples": 2, "batch_size": 3}
    result = run_eval(speaker, "sdt_vae", settings, out="sdt_vae.json")
    assert result["seeds"] == [0, 1] and [r["seed"] for r in result["per_seed"]] == [0, 1]
    for m in METRICS:
        values = [r[m] for r in result["per_seed"]]
        assert np.isfinite(values).all(), m
        assert result[m] == pytest.approx(np.mean(values)) and result["std"][m] == pytest.approx(np.std(values, ddof=1))
    assert result["diversity"] > 0  # different templates, different gestures
    assert result["L2"] > 0 and result["per_seed"][0]["L2"] != result["per_seed"][1]["L2"]
    assert result["checkpoints"]["model"]["path"] == str(speaker / "sdt_vae.pt")
    assert result["settings"]["diversity_samples"] == 2

    # the same seed gives the same templates whatever the batch size
    again = run_eval(speaker, "sdt_vae", {**settings, "seeds": [1], "batch_size": 4}, out="again.json")
    for m in METRICS:
        assert again["per_seed"][0][m] == pytest.approx(result["per_seed"][1][m], rel=1e-4, abs=1e-6), m


def test_model_without_templates_runs_once(speaker):
    result = run_eval(speaker, "s2g", {"seeds": [0, 1, 2], "diversity_samples": 3}, out="s2g.json")
    assert result["seeds"] == [] and len(result["per_seed"]) == 1 and result["per_seed"][0]["seed"] is None
    assert result["diversity"] == 0 and result["std"]["L2"] is None and result["L2"] > 0


def test_template_choices(speaker):
    model = load_model("sdt_vae", speaker / "sdt_vae.pt", speaker / "pose_vae.pt",
                       load_stats(speaker / "stats.npz"), torch.device("cpu"))
    table = load_checkpoint(speaker / "pose_vae.pt")["buffers"]["clip_code_mu"]
    draws = template_draws(model, 5, EvalSettings(diversity_samples=3), seed=7)  # [K, N, D] rows of the table
    assert draws.shape == (3, 5, 32) and all(any(torch.equal(d, row) for row in table) for d in draws.reshape(-1, 32))
    assert torch.equal(draws, template_draws(model, 5, EvalSettings(diversity_samples=3), seed=7))
    assert not torch.equal(draws, template_draws(model, 5, EvalSettings(diversity_samples=3), seed=8))
    normal = template_draws(model, 5, EvalSettings(template="normal", diversity_samples=2), seed=7)
    assert normal.shape == (2, 5, 32) and not any(torch.equal(d, row) for row in table for d in normal.reshape(-1, 32))

    truth = run_eval(speaker, "sdt_vae", {"template": "vae_of_truth", "diversity_samples": 0}, out="truth.json")
    assert truth["diversity"] is None and np.isfinite([truth[m] for m in METRICS if m != "diversity"]).all()


def test_release_sdt_vae_takes_its_templates_from_the_vae(speaker, tmp_path):
    """The release's SDT-VAE checkpoint has no template table: its templates are the release VAE's clip means."""
    ours = load_checkpoint(speaker / "sdt_vae.pt")
    vae = load_checkpoint(speaker / "pose_vae.pt")
    gen_state = {f"module.netG.{k}": v for k, v in ours["state_dicts"]["netG"].items()}
    vae_state = {f"module.ae.{k}": v for k, v in vae["state_dicts"]["vae"].items()}
    mu = torch.randn(N_TRAIN + 3, 32)
    vae_state.update({"module.clip_code_mu": mu, "module.clip_code_logvar": torch.zeros_like(mu)})
    torch.save({"epoch": 100, "step": 1, "model_state_dict": gen_state}, tmp_path / "gen.pth")
    torch.save({"epoch": 100, "step": 1, "model_state_dict": vae_state}, tmp_path / "vae.pth")
    stats = load_stats(speaker / "stats.npz")
    model = load_model("sdt_vae", tmp_path / "gen.pth", tmp_path / "vae.pth", stats, torch.device("cpu"))
    assert torch.equal(model.templates, mu)
    with pytest.raises(InputError, match="not a Speech2Gesture model"):
        load_model("s2g", tmp_path / "gen.pth", tmp_path / "vae.pth", stats, torch.device("cpu"))
    # the release VAE as FTD's encoder: the ground-truth row is still a perfect score
    result = run_eval(speaker, "ground_truth", pose_vae=tmp_path / "vae.pth", out="gt_release.json")
    assert result["L2"] == 0 and result["FTD"] == pytest.approx(0, abs=1e-6)


def test_bad_inputs(speaker, tmp_path):
    stats = load_stats(speaker / "stats.npz")
    with pytest.raises(InputError, match="not an sdt_bp model"):
        load_model("sdt_bp", speaker / "s2g.pt", speaker / "pose_vae.pt", stats, torch.device("cpu"))
    save_npy(tmp_path / "one.npy", np.load(speaker / "dev_poses.npy")[:1])
    with pytest.raises(InputError, match="FTD needs at least 2"):
        evaluate("tiny", "ground_truth", tmp_path / "one.npy", speaker / "stats.npz", speaker / "pose_vae.pt",
                 tmp_path / "x.json", progress=False)
    assert not (tmp_path / "x.json").exists()
    for bad in ({"template": "random"}, {"diversity_samples": 1}, {"seeds": []}):
        with pytest.raises(ValueError):
            EvalSettings(**bad)


# --- the authors' checkpoints with the release's statistics (config stats: release) ------------------------------

@pytest.mark.parametrize("method", ["sdt_bp", "s2g"])
def test_release_statistics_denormalise_an_authors_checkpoint(method, tmp_path):
    """An authors' model whose last layer outputs exactly 0 (normalised) predicts the release's mean pose of oliver:
    with stats: release the prediction is the release's mean (SDT-BP: parted, made global; Speech2Gesture: global)
    x the release's scale_factor, which the dev clips here are, so L2 is 0 and FTD 0: the model path (final results,
    the conversion to normalised parted poses before the FTD encoder) meets the truth path.  Statistics computed from
    the clips put the prediction elsewhere."""
    release = release_stats("oliver")
    mean_pose = to_global(release["mean_parted"]) if method == "sdt_bp" else release["mean_global"]  # [2, 121] px
    dev = np.zeros((3, 64, 3, 137), np.float32)
    dev[:, :, :2, 1] = [640, 360]  # the neck
    dev[:, :, :2, layout.KEEP_121] = np.array([640, 360], np.float32)[:, None] + mean_pose
    dev[:, :, 2] = 1
    save_npy(tmp_path / "dev_poses.npy", dev)
    save_npy(tmp_path / "dev_audio.npy", np.random.default_rng(0).normal(0, 0.1, (3, AUDIO_SAMPLES)).astype(np.float32))
    save_npy(tmp_path / "train_poses.npy", synthetic_poses(np.random.default_rng(1), N_TRAIN))
    torch.save(release_fixture.audio2pose(method, n_train=N_TRAIN, output_bias=np.zeros(242)), tmp_path / "m.pth")
    torch.save(release_fixture.pose_vae(n_train=N_TRAIN), tmp_path / "vae.pth")
    results = {}
    for choice in ("release", "computed"):
        compute_stats(tmp_path / "train_poses.npy", tmp_path / f"{choice}.npz", "released", speaker="oliver",
                      stats=choice)
        results[choice] = evaluate("oliver", method, tmp_path / "dev_poses.npy", tmp_path / f"{choice}.npz",
                                   tmp_path / "vae.pth", tmp_path / f"{choice}.json",
                                   dev_audio=tmp_path / "dev_audio.npy", model_path=tmp_path / "m.pth",
                                   settings={"diversity_samples": 0}, progress=False)
    stats = json.loads((tmp_path / "release.json").read_text())["stats"]
    assert stats["source"] == "release" and stats["scale_factor"] == 0.9549234615419752
    assert results["release"]["L2"] < 1e-3 and results["release"]["FTD"] == pytest.approx(0, abs=1e-6)
    assert results["computed"]["stats"]["source"] == "computed" and results["computed"]["L2"] > 10


def test_template_table_must_have_one_row_per_train_row(speaker, tmp_path):
    """A configured checkpoint of other data: its table length and the speaker's train rows are both named."""
    torch.save(release_fixture.audio2pose("sdt_bp", n_train=N_TRAIN + 2), tmp_path / "bp.pth")
    index = tmp_path / "clips.csv"
    index.write_text("dataset,index,release_row\n" + "".join(f"train,{i},{i}\n" for i in range(N_TRAIN))
                     + "dev,0,0\n")
    with pytest.raises(InputError, match=f"table has {N_TRAIN + 2} rows, but there are {N_TRAIN} train rows"):
        run_eval(speaker, "sdt_bp", model=tmp_path / "bp.pth", index_csv=index, out="bad.json")
    assert not (speaker / "bad.json").exists()

# --- FTD of global-pose models: the release's encoder input and the parted one (issue 14) -----------------------

def release_formula(norm_global, stats):
    """The release's transform_normalized_parted2global written out point by point from docs/dataset.md §4 and 6:
    denormalise with the parted statistics, parted -> global (face 9-78 but 39 += 39, left hand 79-99 += 6, right
    hand 100-120 += 3), normalise with the global statistics."""
    x = norm_global * stats["std_parted"] + stats["mean_parted"]
    out = x.copy()
    for children, parent in ((list(range(9, 39)) + list(range(40, 79)), 39), (range(79, 100), 6),
                             (range(100, 121), 3)):
        for c in children:
            out[..., c] = x[..., c] + x[..., parent]
    return (out - stats["mean_global"]) / stats["std_global"]


def test_release_encoder_input_is_the_release_formula(speaker):
    """A hand-made case: random statistics and poses (float64, so the formula and the code agree to rounding)."""
    from sdt.poses import from_final, release_global_to_encoder

    rng = np.random.default_rng(3)
    stats = {"mean_parted": rng.normal(0, 50, (2, 121)), "std_parted": rng.uniform(5, 40, (2, 121)),
             "mean_global": rng.normal(0, 80, (2, 121)), "std_global": rng.uniform(10, 60, (2, 121)),
             "scale_factor": 0.9}
    norm_global = rng.normal(0, 1, (3, 64, 2, 121))
    want = release_formula(norm_global, stats)
    np.testing.assert_allclose(release_global_to_encoder(norm_global, stats), want, rtol=1e-12, atol=1e-12)
    assert np.abs(want - from_final(final_results_of(norm_global, stats), stats, True)).max() > 1  # the paths differ

    # through the pose encoder: the release path encodes the formula's poses, the parted path today's input
    from sdt.inference import load_pose_encoder
    from sdt.poses import normalise, to_parted

    stats = load_stats(speaker / "stats.npz")
    encoder = load_pose_encoder(speaker / "pose_vae.pt", stats=stats)
    final = torch.from_numpy(to_121(np.load(speaker / "dev_poses.npy")[:, :, :2]) * stats["scale_factor"])
    norm = normalise(final / stats["scale_factor"], stats["mean_global"], stats["std_global"])  # the s2g target
    with torch.no_grad():
        release = encoder.vae.encode(torch.as_tensor(release_formula(norm.numpy(), stats)))
        parted = encoder.vae.encode(normalise(to_parted(final / stats["scale_factor"]), stats["mean_parted"],
                                              stats["std_parted"]))
    for got, want in ((encoder.encode_final(final, release_global=True), release), (encoder.encode_final(final),
                                                                                     parted)):
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(release[0], parted[0], atol=1e-2)


def final_results_of(norm_global, stats):
    return (norm_global * stats["std_global"] + stats["mean_global"]) * stats["scale_factor"]


def test_ftd_of_a_global_model_on_both_inputs(speaker):
    """Speech2Gesture: FTD follows ftd_global_input, both inputs are stored whatever the choice, and the truth goes
    through the same input as the prediction (the ground-truth row stays 0 on both)."""
    release = run_eval(speaker, "s2g", {"diversity_samples": 0}, out="s2g_release.json")
    parted = run_eval(speaker, "s2g", {"diversity_samples": 0, "ftd_global_input": "parted"}, out="s2g_parted.json")
    for r in (release, parted):
        assert r["representation"] == "global" and {"FTD_release", "FTD_parted", "FTD_mu_logvar_release",
                                                      "FTD_mu_logvar_parted"} <= set(r)
    assert release["ftd_input"] == "release" and parted["ftd_input"] == "parted"
    assert release["FTD"] == release["FTD_release"] and release["FTD_mu_logvar"] == release["FTD_mu_logvar_release"]
    assert parted["FTD"] == parted["FTD_parted"] and parted["FTD_mu_logvar"] == parted["FTD_mu_logvar_parted"]
    for k in ("FTD_release", "FTD_parted", "FTD_mu_logvar_release", "FTD_mu_logvar_parted", "L2"):
        assert release[k] == parted[k], k
    assert release["FTD_release"] != pytest.approx(release["FTD_parted"], rel=1e-3)


def test_ftd_of_a_parted_model_is_unchanged(speaker):
    """SDT-VAE: FTD is today's (encoder of the predictions made parted), whatever ftd_global_input says."""
    from sdt.evaluate.evaluate import DevClips
    from sdt.inference import load_pose_encoder

    stats = load_stats(speaker / "stats.npz")
    a = run_eval(speaker, "sdt_vae", {"diversity_samples": 0}, out="vae_a.json")
    b = run_eval(speaker, "sdt_vae", {"diversity_samples": 0, "ftd_global_input": "parted"}, out="vae_b.json")
    assert a["representation"] == "parted" and a["ftd_input"] == b["ftd_input"] == "parted"
    assert a["FTD"] == b["FTD"] == a["FTD_release"] == a["FTD_parted"]
    # today's formula, written out: codes of the predictions and of the truth made parted and normalised
    model = load_model("sdt_vae", speaker / "sdt_vae.pt", speaker / "pose_vae.pt", stats, torch.device("cpu"))
    encoder = load_pose_encoder(speaker / "pose_vae.pt", stats=stats)
    clips = DevClips(speaker / "dev_poses.npy", speaker / "dev_audio.npy")
    templates = template_draws(model, len(clips), EvalSettings(diversity_samples=0), seed=0)[0]
    pred = model.predict(np.load(speaker / "dev_audio.npy"), templates)
    true = torch.from_numpy(to_121(np.load(speaker / "dev_poses.npy")[:, :, :2]) * stats["scale_factor"])
    mu_pred, mu_true = (encoder.vae.encode(normalise_parted(x, stats))[0] for x in (pred, true))
    assert a["FTD"] == pytest.approx(metrics.ftd(mu_pred, mu_true), rel=1e-4)


def normalise_parted(final, stats):
    from sdt.poses import normalise, to_parted

    return normalise(to_parted(final / stats["scale_factor"]), stats["mean_parted"], stats["std_parted"])


def test_samples_of_many_templates_equal_one_prediction_each(speaker):
    """GestureModel.predict_samples (one audio-encoder pass for K templates, what evaluation uses) gives exactly
    what predict gives for each template."""
    stats = load_stats(speaker / "stats.npz")
    model = load_model("sdt_vae", speaker / "sdt_vae.pt", speaker / "pose_vae.pt", stats, torch.device("cpu"))
    audio = np.load(speaker / "dev_audio.npy")
    draws = template_draws(model, len(audio), EvalSettings(diversity_samples=3), seed=0)
    samples = model.predict_samples(audio, draws)
    assert len(samples) == 3 and not torch.equal(samples[0], samples[1])
    for k, sample in enumerate(samples):
        assert torch.equal(sample, model.predict(audio, draws[k]))
