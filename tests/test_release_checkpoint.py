"""sdt/release_checkpoint.py on checkpoints in the release's layout (docs/networks.md §4): round trips through our own
models, and checkpoints written from the release's literal key names and shapes (tests/release_fixture.py)."""

import pytest
import release_fixture
import torch

from models.discriminator import PoseDiscriminatorConfig, PoseSequenceDiscriminator
from models.generator import GeneratorConfig, SequenceGeneratorCNN
from models.pose_vae import PoseSeqEncoder, PoseSeqVAE, PoseVAEConfig
from sdt.errors import InputError
from sdt.release_checkpoint import load_release_checkpoint

N_TRAIN = 10


def randomise_bn_stats(module):
    """Non-default running statistics, so that a loader that forgot the buffers would be caught."""
    for name, buf in module.named_buffers():
        if name.endswith("running_mean"):
            buf.normal_()
        elif name.endswith("running_var"):
            buf.uniform_(0.5, 2.0)
        elif name.endswith("num_batches_tracked"):
            buf.fill_(123)


def release_layout(parts, **extra):
    """The authors' torch.save dict: {prefix: module} -> 'module.<prefix>.<key>' keys, fake torchaudio mel
    buffers, an optimizer entry, epoch and step, as DataParallel and the release's Trainer write it."""
    state = {}
    for prefix, module in parts.items():
        state.update({f"module.{prefix}.{k}": v.clone() for k, v in module.state_dict().items()})
    state["module.mel_transfm.spectrogram.window"] = torch.hann_window(400)
    state["module.mel_transfm.mel_scale.fb"] = torch.rand(257, 80)
    state.update({f"module.{k}": v for k, v in extra.items()})
    first = next(iter(parts.values()))
    opt = torch.optim.Adam(first.parameters(), lr=1e-4)
    return {"epoch": 100, "step": 12345, "model_state_dict": state, "optimizerG_state_dict": opt.state_dict()}


def assert_same_weights(ours, theirs):
    a, b = ours.state_dict(), theirs.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=0, rtol=0, msg=k)


def mel_keys(report):
    return sorted(k for k in report.skipped if "mel_transfm" in k)


def test_sdt_bp_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    gen = SequenceGeneratorCNN(GeneratorConfig(template_dim=32, norm="IN")).eval()
    enc = PoseSeqEncoder(PoseVAEConfig()).eval()
    randomise_bn_stats(enc)
    table = torch.nn.Parameter(torch.randn(N_TRAIN, 32))
    path = tmp_path / "sdt_bp.pth"
    torch.save(release_layout({"netG": gen, "pose_encoder": enc}, clips_code=table.detach()), path)

    rel = load_release_checkpoint(path, kind="audio2pose")
    cfg, report = rel["generator_config"], rel["report"]
    assert (cfg.template_dim, cfg.norm, cfg.n_points) == (32, "IN", 121)
    assert rel["discriminator"] is None and (rel["epoch"], rel["step"]) == (100, 12345)
    assert_same_weights(gen, rel["generator"])
    assert_same_weights(enc, rel["pose_encoder"])
    torch.testing.assert_close(rel["templates"], table.detach())
    assert mel_keys(report) == ["module.mel_transfm.mel_scale.fb", "module.mel_transfm.spectrogram.window"]
    assert "optimizerG_state_dict" in report.skipped and report.unknown == []
    assert len(report.loaded) == len(gen.state_dict()) + len(enc.state_dict()) + 1

    mel, tpl, poses = torch.rand(2, 80, 427), table.detach()[:2], torch.randn(2, 64, 2, 121)
    with torch.no_grad():
        torch.testing.assert_close(rel["generator"](mel, tpl), gen(mel, tpl), atol=0, rtol=0)
        for a, b in zip(rel["pose_encoder"](poses), enc(poses), strict=True):
            torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_frame_wise_sdt_bp_checkpoint(tmp_path):
    """The release's CLIP_CODE.FRAME_VARIANT: a table [N, 32, 64], one template per frame (docs/networks.md §5)."""
    from sdt.inference import load_gesture_model
    from sdt.poses import to_global

    torch.manual_seed(4)
    gen = SequenceGeneratorCNN(GeneratorConfig(template_dim=32, norm="IN")).eval()
    table = torch.randn(N_TRAIN, 32, 64)
    path = tmp_path / "sdt_bp_frame.pth"
    torch.save(release_layout({"netG": gen}, clips_code=table), path)
    rel = load_release_checkpoint(path, kind="audio2pose")
    torch.testing.assert_close(rel["templates"], table)
    stats = {"mean_parted": torch.zeros(2, 121).numpy(), "std_parted": torch.ones(2, 121).numpy(),
             "mean_global": torch.zeros(2, 121).numpy(), "std_global": torch.ones(2, 121).numpy(),
             "scale_factor": 1.0, "scale_rule": "released", "n_train_clips": N_TRAIN}
    model = load_gesture_model(path, stats=stats)
    assert model.definition.template == "frame_bp" and model.templates.shape == (N_TRAIN, 32, 64)
    audio = torch.randn(2, 68266) * 0.1
    with torch.no_grad():  # parted poses, unit statistics: the final result is the prediction made global
        want = to_global(gen(model.features(audio), table[:2]))
    torch.testing.assert_close(model.predict(audio, table[:2]), want, atol=1e-5, rtol=1e-5)
    bad = torch.randn(N_TRAIN, 32, 64, 2)
    torch.save(release_layout({"netG": gen}, clips_code=bad), tmp_path / "bad.pth")
    with pytest.raises(InputError, match=r"expected \[N, D\] \(clip-wise\) or \[N, D, T\]"):
        load_release_checkpoint(tmp_path / "bad.pth", kind="audio2pose")


def test_speech2gesture_checkpoint_round_trip(tmp_path):
    torch.manual_seed(1)
    gen = SequenceGeneratorCNN(GeneratorConfig(template_dim=0, norm="BN")).eval()
    disc = PoseSequenceDiscriminator(PoseDiscriminatorConfig()).eval()
    randomise_bn_stats(gen)
    randomise_bn_stats(disc)
    path = tmp_path / "s2g.pth"
    torch.save(release_layout({"netG": gen, "netD_pose": disc}), path)

    rel = load_release_checkpoint(str(path))
    assert (rel["generator_config"].template_dim, rel["generator_config"].norm) == (0, "BN")
    assert rel["templates"] is None and rel["pose_encoder"] is None
    assert_same_weights(gen, rel["generator"])
    assert_same_weights(disc, rel["discriminator"])
    assert len(mel_keys(rel["report"])) == 2 and rel["report"].unknown == []
    mel, poses = torch.rand(2, 80, 427), torch.randn(2, 64, 2, 121)
    with torch.no_grad():
        torch.testing.assert_close(rel["generator"](mel), gen(mel), atol=0, rtol=0)
        torch.testing.assert_close(rel["discriminator"](poses), disc(poses), atol=0, rtol=0)


def test_sdt_vae_checkpoint_without_table_infers_the_template_dimension():
    torch.manual_seed(2)
    gen = SequenceGeneratorCNN(GeneratorConfig(template_dim=16, norm="IN"))
    rel = load_release_checkpoint(release_layout({"netG": gen}), kind="audio2pose")
    assert rel["generator_config"].template_dim == 16 and rel["templates"] is None
    assert any("clip_code_mu" in note for note in rel["report"].notes)


def test_vae_checkpoint_round_trip(tmp_path):
    torch.manual_seed(3)
    vae = PoseSeqVAE(PoseVAEConfig()).eval()
    randomise_bn_stats(vae)
    mu, logvar = torch.randn(N_TRAIN, 32), torch.randn(N_TRAIN, 32)
    path = tmp_path / "vae.pth"
    torch.save(release_layout({"ae": vae}, clip_code_mu=mu, clip_code_logvar=logvar), path)

    rel = load_release_checkpoint(path, kind="vae")
    assert rel["vae_config"] == PoseVAEConfig()
    assert_same_weights(vae, rel["vae"])
    torch.testing.assert_close(rel["clip_code_mu"], mu)
    torch.testing.assert_close(rel["clip_code_logvar"], logvar)
    assert len(mel_keys(rel["report"])) == 2 and rel["report"].unknown == []
    poses = torch.randn(2, 64, 2, 121)
    with torch.no_grad():
        for a, b in zip(rel["vae"](poses), vae(poses), strict=True):
            torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_unknown_keys_are_reported_not_loaded():
    torch.manual_seed(4)
    vae = PoseSeqVAE(PoseVAEConfig())
    extra = {"ae.decoder.t5.conv.weight": torch.zeros(1), "something": torch.ones(1)}
    ckpt = release_layout({"ae": vae}, **extra)
    ckpt["scheduler"] = {"milestones": [90, 98]}
    report = load_release_checkpoint(ckpt, kind="vae")["report"]
    assert sorted(report.unknown) == ["module.ae.decoder.t5.conv.weight", "module.something", "scheduler"]
    assert "3 unknown" in report.summary()


def test_bad_checkpoints_raise_input_errors(tmp_path):
    torch.manual_seed(5)
    vae = PoseSeqVAE(PoseVAEConfig())
    with pytest.raises(InputError, match="kind='vae'"):
        load_release_checkpoint(release_layout({"ae": vae}), kind="audio2pose")
    ckpt = release_layout({"ae": vae})
    del ckpt["model_state_dict"]["module.ae.decoder.d3.conv.weight"]
    with pytest.raises(InputError, match="missing"):
        load_release_checkpoint(ckpt, kind="vae")
    ckpt = release_layout({"ae": vae})
    ckpt["model_state_dict"]["module.ae.decoder.blocks.0.norm.weight"] = torch.ones(3)
    with pytest.raises(InputError, match="shape"):
        load_release_checkpoint(ckpt, kind="vae")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pth"):
        load_release_checkpoint(tmp_path / "junk.pth", kind="vae")
    with pytest.raises(InputError, match="model_state_dict"):
        load_release_checkpoint({"epoch": 1}, kind="vae")
    with pytest.raises(ValueError, match="kind"):
        load_release_checkpoint({"model_state_dict": {}}, kind="pose")


# --- checkpoints written from the release's own key names and shapes (tests/release_fixture.py) -------------------

@pytest.mark.parametrize("kind", ["sdt_bp", "sdt_vae", "s2g"])
def test_release_audio2pose_layout_loads_every_weight(kind, tmp_path):
    ckpt = release_fixture.audio2pose(kind, n_train=7)
    path = tmp_path / f"{kind}.pth"
    torch.save(ckpt, path)
    rel = load_release_checkpoint(path, kind="audio2pose")
    report, state = rel["report"], ckpt["model_state_dict"]
    assert report.unknown == []
    code_mapper = sorted(k for k in state if ".code_mapper." in k)
    assert (len(code_mapper) == 7 * 6 + 2) == (kind != "s2g")  # 7 BN blocks + the 1x1 convolution
    assert all("CodeMapper" in report.skipped[k] for k in code_mapper)
    # every weight is loaded or skipped for a stated reason: nothing is left out silently
    assert set(report.loaded) | set(report.skipped) == set(state) | {k for k in ckpt if k.endswith("_state_dict")
                                                                      and k != "model_state_dict"}
    cfg = rel["generator_config"]
    # the IN generator is recognised as IN although its code mapper carries batch-norm statistics
    assert (cfg.norm, cfg.template_dim, cfg.n_points) == (("BN", 0, 121) if kind == "s2g" else ("IN", 32, 121))
    for key, value in state.items():
        if key.startswith("module.netG.") and ".code_mapper." not in key:
            ours = rel["generator"].state_dict()[key[len("module.netG."):]]
            torch.testing.assert_close(ours, value, atol=0, rtol=0, msg=key)
    assert (rel["templates"] is not None) == (kind == "sdt_bp")
    assert (rel["discriminator"] is not None) == (kind == "s2g")
    if kind == "sdt_bp":
        torch.testing.assert_close(rel["templates"], state["module.clips_code"])
    with torch.no_grad():
        out = rel["generator"](torch.rand(2, 80, 100), rel["templates"][:2] if kind == "sdt_bp" else
                               (torch.randn(2, 32) if kind == "sdt_vae" else None))
    assert out.shape == (2, 64, 2, 121) and torch.isfinite(out).all()


def test_release_pose_vae_layout_loads_every_weight(tmp_path):
    ckpt = release_fixture.pose_vae(n_train=9)
    torch.save(ckpt, tmp_path / "vae.pth")
    rel = load_release_checkpoint(tmp_path / "vae.pth", kind="vae")
    assert rel["report"].unknown == [] and rel["vae_config"] == PoseVAEConfig()
    state = ckpt["model_state_dict"]
    for key, value in state.items():
        if key.startswith("module.ae."):
            torch.testing.assert_close(rel["vae"].state_dict()[key[len("module.ae."):]], value, atol=0, rtol=0)
    torch.testing.assert_close(rel["clip_code_mu"], state["module.clip_code_mu"])
    assert rel["clip_code_mu"].shape == (9, 32)
