"""The networks of models/: the release's parameter counts, shapes, norms, determinism and the losses."""

import math

import pytest
import torch
from torch import nn

from models.audio_encoder import AudioEncoder
from models.blocks import ConvNormRelu, TimeStepNorm
from models.discriminator import (
    PoseDiscriminatorConfig,
    PoseSequenceDiscriminator,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from models.generator import GeneratorConfig, SequenceGeneratorCNN
from models.pose_vae import PoseSeqVAE, PoseVAEConfig, template_kl, vae_kl

MEL = (80, 427)  # one 68266-sample clip's mel spectrogram (docs/dataset.md §15)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def sdt_gen():
    torch.manual_seed(0)
    return SequenceGeneratorCNN(GeneratorConfig(template_dim=32, norm="IN"))


@pytest.fixture(scope="module")
def s2g_gen():
    torch.manual_seed(1)
    return SequenceGeneratorCNN(GeneratorConfig(template_dim=0, norm="BN"))


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(2)
    return PoseSeqVAE(PoseVAEConfig())


def test_parameter_counts_equal_the_release(sdt_gen, s2g_gen, vae):
    assert n_params(AudioEncoder(norm="IN")) == 3_514_944
    assert n_params(sdt_gen) == 7_075_122
    assert n_params(s2g_gen) == 7_061_554
    assert n_params(PoseSequenceDiscriminator(PoseDiscriminatorConfig())) == 2_351_617
    assert n_params(vae) == 3_164_018
    assert n_params(vae.encoder) == 1_499_776


def test_conv_norm_relu_layers():
    down = ConvNormRelu(256, 256, dim=1, downsample=True, norm="BN", leaky=True)
    assert down.conv.bias is None and down.conv.kernel_size == (4,) and down.conv.stride == (2,)
    assert down(torch.randn(2, 256, 64)).shape == (2, 256, 32)
    assert down.conv.weight.std().item() == pytest.approx(math.sqrt(2 / (256 * 4)), rel=0.05)  # Kaiming
    assert down.act.negative_slope == 0.2
    assert isinstance(ConvNormRelu(4, 8, norm="BN").act, nn.ReLU)
    in2d = ConvNormRelu(1, 8, dim=2, norm="IN")
    assert isinstance(in2d.norm, nn.InstanceNorm2d) and not in2d.norm.affine
    assert n_params(in2d) == 8 * 9 and n_params(ConvNormRelu(4, 8, dim=1, norm="IN")) == 8 * 4 * 3
    with pytest.raises(ValueError, match="norm"):
        ConvNormRelu(4, 8, norm="GN")


def test_instance_norm_1d_normalises_each_time_step_across_channels():
    x = torch.randn(3, 16, 10) * 5 + torch.arange(10.0)  # a different offset per time step
    y = TimeStepNorm()(x)
    torch.testing.assert_close(y.mean(dim=1), torch.zeros(3, 10), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(dim=1, unbiased=False), torch.ones(3, 10), atol=1e-3, rtol=0)
    # the release computes it as InstanceNorm1d on the transposed tensor
    torch.testing.assert_close(y, nn.InstanceNorm1d(10)(x.transpose(1, 2)).transpose(1, 2))
    # and it is not the usual instance norm over time
    assert not torch.allclose(y, nn.InstanceNorm1d(16)(x), atol=1e-3)


def test_audio_encoder_shape():
    enc = AudioEncoder(norm="IN").eval()
    assert enc(torch.rand(2, *MEL), 64).shape == (2, 256, 64)


def test_generator_shapes_and_template_checks(sdt_gen, s2g_gen):
    mel = torch.rand(2, *MEL)
    with torch.no_grad():
        assert sdt_gen.eval()(mel, torch.randn(2, 32)).shape == (2, 64, 2, 121)
        assert s2g_gen.eval()(mel).shape == (2, 64, 2, 121)
        assert sdt_gen(torch.rand(1, 80, 641), torch.randn(1, 32), n_frames=96).shape == (1, 96, 2, 121)
        with pytest.raises(ValueError, match="template"):
            sdt_gen(mel, None)
        with pytest.raises(ValueError, match="template"):
            sdt_gen(mel, torch.randn(2, 16))
        with pytest.raises(ValueError, match="no templates"):
            s2g_gen(mel, torch.randn(2, 32))


def test_generator_output_layout_is_coordinate_major(s2g_gen):
    """Channel c of the last 1x1 conv is coordinate c // 121 of point c % 121 (the release's reshape)."""
    conv = s2g_gen.decoder[-1]
    saved = conv.weight.detach().clone(), conv.bias.detach().clone()
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.copy_(torch.arange(242.0))
        out = s2g_gen.eval()(torch.rand(1, *MEL))
        conv.weight.copy_(saved[0])
        conv.bias.copy_(saved[1])
    assert out[0, 5, 1, 7].item() == 121 + 7 and out[0, 0, 0, 120].item() == 120


@pytest.mark.parametrize("name", ["sdt", "s2g"])
def test_generator_eval_is_deterministic_and_batched_equals_per_item(name, sdt_gen, s2g_gen):
    gen = (sdt_gen if name == "sdt" else s2g_gen).eval()
    mel = torch.rand(3, *MEL)
    tpl = torch.randn(3, 32) if name == "sdt" else None
    with torch.no_grad():
        out = gen(mel, tpl)
        torch.testing.assert_close(gen(mel, tpl), out, atol=0, rtol=0)
        single = torch.cat([gen(mel[i:i + 1], None if tpl is None else tpl[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(single, out, atol=1e-4, rtol=1e-4)


def test_instance_norm_generator_is_per_item_even_in_training_mode(sdt_gen):
    mel, tpl = torch.rand(2, *MEL), torch.randn(2, 32)
    with torch.no_grad():
        out = sdt_gen.train()(mel, tpl)
        single = torch.cat([sdt_gen(mel[i:i + 1], tpl[i:i + 1]) for i in range(2)])
    sdt_gen.eval()
    torch.testing.assert_close(single, out, atol=1e-4, rtol=1e-4)


def test_discriminator_scores_motion():
    torch.manual_seed(3)
    disc = PoseSequenceDiscriminator(PoseDiscriminatorConfig()).eval()
    poses = torch.randn(2, 64, 2, 121)
    with torch.no_grad():
        scores = disc(poses)
        assert scores.shape == (2, 15)
        # frame differences: a constant offset of the whole sequence does not change the scores
        torch.testing.assert_close(disc(poses + 3.0), scores, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(disc(poses * 2), scores, atol=1e-3)
    assert isinstance(disc.seq[0].norm, nn.BatchNorm1d) and disc.seq[-1].bias is not None


def test_vae_shapes_and_mu_logvar_split(vae):
    vae.eval()
    poses = torch.randn(3, 64, 2, 121)
    with torch.no_grad():
        recon, mu, logvar = vae(poses)
        assert recon.shape == poses.shape and mu.shape == logvar.shape == (3, 32)
        feats = vae.encoder.blocks(poses.reshape(3, 64, 242).transpose(1, 2))  # (3, 64, 2)
        assert feats.shape == (3, 64, 2)
        # nearest resize to length 1 keeps the first frame; mu = even channels, logvar = odd ones
        torch.testing.assert_close(mu, feats[:, 0::2, 0])
        torch.testing.assert_close(logvar, feats[:, 1::2, 0])
        torch.testing.assert_close(vae.encode(poses)[0], mu)
        # eval decodes the mean: deterministic
        torch.testing.assert_close(recon, vae.decode(mu), atol=0, rtol=0)
        single = torch.cat([vae(poses[i:i + 1])[0] for i in range(3)])
    torch.testing.assert_close(single, recon, atol=1e-4, rtol=1e-4)


def test_vae_samples_in_training_mode(vae):
    poses = torch.randn(4, 64, 2, 121)
    vae.train()
    with torch.no_grad():
        r1, mu1, _ = vae(poses)
        r2, mu2, _ = vae(poses)
    vae.eval()
    torch.testing.assert_close(mu1, mu2)
    assert not torch.allclose(r1, r2)


def test_vae_kl_hand_values():
    z = torch.zeros(2, 4)
    assert vae_kl(z, z).item() == 0
    assert vae_kl(torch.ones(2, 4), z).item() == pytest.approx(0.5)
    log2 = torch.full((2, 4), math.log(2))
    assert vae_kl(z, log2).item() == pytest.approx(0.5 * (1 - math.log(2)))


def test_template_kl_hand_values():
    tpl = torch.tensor([[1.0, 0.0], [3.0, 2.0]], requires_grad=True)  # mean (2, 1), unbiased var (2, 2)
    kl = template_kl(tpl)
    expected = 0.5 * ((-math.log(2) + 4 + 2 - 1) + (-math.log(2) + 1 + 2 - 1)) / 2
    assert kl.item() == pytest.approx(expected)
    kl.backward()
    assert tpl.grad.abs().sum() > 0
    assert template_kl(torch.zeros(8, 32)).item() == 0  # the zero-initialised table: skipped
    assert template_kl(torch.tensor([[1.0, 2.0], [1.0, 3.0]])).item() == 0  # one dimension with variance 0
    assert template_kl(torch.randn(1, 32)).item() == 0  # a batch of one has no variance


def test_lsgan_losses():
    zeros, ones = torch.zeros(2, 15), torch.ones(2, 15)
    assert lsgan_generator_loss(zeros).item() == 1 and lsgan_generator_loss(ones).item() == 0
    assert lsgan_discriminator_loss(ones, zeros).item() == 0
    assert lsgan_discriminator_loss(ones * 0.5, ones * 0.5).item() == pytest.approx(0.5)
