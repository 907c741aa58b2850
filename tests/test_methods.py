"""sdt/methods.py and the networks each method builds (sdt/families/<family>.py): every variant of the paper's
tables builds what it names (norms, templates, discriminator, representation), the parameter counts of each and
where they come from, the frame-wise templates of docs/networks.md §5 and their KL."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from models.blocks import TimeStepNorm
from models.generator import GeneratorConfig, SequenceGeneratorCNN
from models.pose_vae import template_kl
from sdt.families.unet import batch_kl
from sdt.methods import PAPER_METHODS, Method, catalogue, get
from sdt.train.config import TrainSettings
from sdt.train.run import Run, build_networks

MEL = (80, 427)
SETTINGS = TrainSettings()
STATS = {"mean_parted": np.zeros((2, 121), np.float32), "std_parted": np.ones((2, 121), np.float32),
         "mean_global": np.zeros((2, 121), np.float32), "std_global": np.ones((2, 121), np.float32),
         "scale_factor": 1.0, "scale_rule": "released", "n_train_clips": 6}


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def norm_types(module):
    return {type(m) for m in module.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm1d,
                                                                 nn.InstanceNorm2d, TimeStepNorm))}


# Generator parameter counts (models/generator.py, docs/networks.md §1): with 32-d templates 7,075,122 (the
# release's, in test_models).  Without templates e0 takes 256 channels instead of 288: 256 x 32 x 3 = 24,576 weights
# fewer -> 7,050,546 under IN / IN* / IN over frames (no affine parameters).  BN adds weight and bias per channel of its
# 24 layers: audio encoder 2 x (64 + 64 + 128 + 128 + 4 x 256) = 2,816, U-Net 12 x 2 x 256 = 6,144, decoder 4 x 2 x 256
# = 2,048: 11,008 -> 7,061,554 (the release's Speech2Gesture generator).  Motion discriminator 2,351,617 (test_models);
# Audio2Body 8,166,642 and MoGlow 210,970,680 (derived in test_baselines).
EXPECTED = {
    "s2g": ({"netG": 7_061_554, "netD": 2_351_617}, {nn.BatchNorm1d, nn.BatchNorm2d}, 0, False),
    "sdt_bp": ({"netG": 7_075_122}, {TimeStepNorm, nn.InstanceNorm2d}, 32, True),
    "sdt_vae": ({"netG": 7_075_122}, {TimeStepNorm, nn.InstanceNorm2d}, 32, True),
    "sdt_bp_frame": ({"netG": 7_075_122}, {TimeStepNorm, nn.InstanceNorm2d}, 32, True),
    "no_template": ({"netG": 7_050_546}, {TimeStepNorm, nn.InstanceNorm2d}, 0, True),
    "bn_global": ({"netG": 7_061_554}, {nn.BatchNorm1d, nn.BatchNorm2d}, 0, False),
    "in_global": ({"netG": 7_050_546}, {nn.InstanceNorm1d, nn.InstanceNorm2d}, 0, False),
    "in_star_global": ({"netG": 7_050_546}, {TimeStepNorm, nn.InstanceNorm2d}, 0, False),
    "bn_parted": ({"netG": 7_061_554}, {nn.BatchNorm1d, nn.BatchNorm2d}, 0, True),
    "in_parted": ({"netG": 7_050_546}, {nn.InstanceNorm1d, nn.InstanceNorm2d}, 0, True),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_generator_variant_builds_what_it_names(name):
    counts, norms, template_dim, parted = EXPECTED[name]
    torch.manual_seed(0)
    nets, configs = build_networks(name, SETTINGS)
    assert {k: n_params(v) for k, v in nets.items()} == counts
    assert norm_types(nets["netG"]) == norms
    assert nets["netG"].cfg.template_dim == template_dim == configs["netG"]["template_dim"]
    assert get(name).parted == parted


def test_baselines_build_their_networks():
    nets, configs = build_networks("audio2body", SETTINGS)
    assert n_params(nets["netG"]) == 8_166_642 and configs["netG"]["hidden"] == 800
    with torch.device("meta"):  # 0.8 GB of weights: count the shapes only
        nets, configs = build_networks("moglow", SETTINGS)
    assert n_params(nets["netG"]) == 210_970_680 and configs["netG"]["n_steps"] == 12
    small = Method("mine", family="moglow", net={"hidden": 8, "n_steps": 2})
    assert len(build_networks(small, SETTINGS)[0]["netG"].steps) == 2


def test_template_tables_of_a_run():
    """SDT-BP: a zero table [N, 32] with its own Adam; frame-wise: [N, 32, 64] (docs/networks.md §5); SDT-VAE: fixed
    means."""
    cpu = torch.device("cpu")
    bp = Run("sdt_bp", SETTINGS, STATS, 6, cpu)
    frame = Run("sdt_bp_frame", SETTINGS, STATS, 6, cpu)
    assert bp.templates.shape == (6, 32) and frame.templates.shape == (6, 32, 64)
    for run in (bp, frame):
        assert isinstance(run.templates, nn.Parameter) and run.templates.abs().sum() == 0 and "templates" in run.opts
    fixed = np.random.default_rng(0).normal(size=(6, 32)).astype(np.float32)
    vae = Run("sdt_vae", SETTINGS, STATS, 6, cpu, fixed)
    assert not isinstance(vae.templates, nn.Parameter) and torch.equal(vae.templates, torch.from_numpy(fixed))
    assert "templates" not in vae.opts and Run("no_template", SETTINGS, STATS, 6, cpu).templates is None
    with pytest.raises(ValueError, match="pose VAE's templates"):
        Run("sdt_vae", SETTINGS, STATS, 6, cpu)


def test_frame_wise_kl_takes_frames_as_samples():
    """Every clip's frames vary but the clips share their frame sequence: the clip-wise KL sees the batch of
    clips, the frame-wise one every (clip, frame) pair."""
    torch.manual_seed(1)
    frames = torch.randn(32, 64)  # [D, T]
    table = torch.stack([frames + 0.01 * torch.randn(32, 64) for _ in range(4)])  # [B = 4, D, T]
    pairs = table.transpose(1, 2).reshape(-1, 32)  # [B T, D]
    assert batch_kl(table).item() == pytest.approx(template_kl(pairs).item())
    var = pairs.var(dim=0)  # ~1: the variance over frames, not the tiny one over clips
    mu = pairs.mean(dim=0)
    assert batch_kl(table).item() == pytest.approx(0.5 * (-torch.log(var) + mu**2 + var - 1).mean().item(), rel=1e-5)
    assert batch_kl(table).item() < 1.0 < template_kl(table.mean(dim=2)).item()  # clip means barely vary: large KL


def test_generator_takes_a_template_per_frame():
    torch.manual_seed(2)
    gen = SequenceGeneratorCNN(GeneratorConfig(template_dim=8)).eval()
    mel, tpl = torch.rand(2, *MEL), torch.randn(2, 8)
    with torch.no_grad():
        repeated = gen(mel, tpl)
        # a clip's template repeated over the frames is the clip-wise generator exactly
        torch.testing.assert_close(gen(mel, tpl[:, :, None].expand(-1, -1, 64).contiguous()), repeated,
                                   rtol=0, atol=0)
        per_frame = tpl[:, :, None].repeat(1, 1, 64)
        per_frame[:, :, 40:] += 3.0  # another template from frame 40 on
        changed = (gen(mel, per_frame) - repeated).abs().amax(dim=(0, 2, 3))  # [64]
    assert changed[45:].min() > 10 * changed[:5].max()  # the late frames change, the early ones hardly
    with pytest.raises(ValueError, match="template"):
        gen(mel, torch.randn(2, 8, 10))


def test_instance_norm_over_frames_normalises_each_channel_over_time():
    from models.blocks import make_norm

    x = torch.randn(3, 16, 40) * torch.arange(1.0, 17.0)[:, None] + torch.arange(16.0)[:, None]
    y = make_norm("IN_frames", 1, 16)(x)
    torch.testing.assert_close(y.mean(dim=2), torch.zeros(3, 16), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(dim=2, unbiased=False), torch.ones(3, 16), atol=1e-3, rtol=0)
    assert not torch.allclose(y, make_norm("IN", 1, 16)(x), atol=1e-2)  # IN*: each frame over the channels


def test_method_definitions():
    for method in PAPER_METHODS.values():
        assert Method.of(method.as_dict()) == method  # what a checkpoint stores rebuilds the method
    assert get("s2g").definition() == {"family": "unet", "norm": "BN", "poses": "global", "template": "none",
                                       "gan_weight": 0.1, "net": {}}
    assert get("moglow").definition() == {"family": "moglow", "poses": "parted", "net": {}}
    assert get("moglow").stochastic and get("sdt_bp").stochastic and not get("audio2body").stochastic
    with pytest.raises(ValueError, match="moglow family has no norm, template"):
        Method.of({"family": "moglow", "norm": "BN", "template": "clip_bp"}, name="x")
    with pytest.raises(ValueError, match="norm must be one of"):
        Method.of({"family": "unet", "norm": "GN"}, name="x")


def test_catalogue_adds_the_configs_variants():
    methods = catalogue({"sdt_bp_bn": {"family": "unet", "norm": "BN", "template": "clip_bp"}})
    assert set(PAPER_METHODS) < set(methods) and methods["sdt_bp_bn"].norm == "BN"
    for taken in ("sdt_bp", "ground_truth", "pose_vae"):
        with pytest.raises(ValueError, match="is taken"):
            catalogue({taken: {"family": "unet"}})
    assert math.isclose(methods["s2g"].gan_weight, 0.1)
