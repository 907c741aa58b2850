"""models/fused.py (``train.fast``'s blocks): the fast conv-norm-activation formulations equal the plain PyTorch ops
(the release's formulation, NCHW) to 1e-5, outputs and gradients, on random inputs; channels-last keeps the state
dict.  (Per block, not after a full-size step: that is tests/train/test_release_numerics.py, default path only.)"""

import copy

import pytest
import torch
from torch import nn

from models.blocks import ConvNormRelu
from models.generator import GeneratorConfig, SequenceGeneratorCNN
from sdt.device import channels_last_pays, fast_layout

TOL = 1e-5


@pytest.fixture(autouse=True)
def fast_blocks(monkeypatch):
    """Every block in this module computed with models/fused.py (what sdt.device.fast_layout sets)."""
    monkeypatch.setattr(ConvNormRelu, "fast", True)


def plain_forward(self, x):
    return self.act(self.norm(self.conv(x)))


def assert_equal_within(got, want, what):
    scale = max(1.0, want.abs().max().item())
    err = (got.float() - want.float()).abs().max().item()
    assert err <= TOL * scale, f"{what}: max difference {err:.2e} (scale {scale:.2g})"


def run_block(block, x, grad, monkeypatch=None):
    """Output, input gradient and parameter gradients of one forward/backward pass."""
    x = x.detach().clone().requires_grad_(x.shape[1] > 1)
    y = block(x)
    y.backward(grad)
    grads = {n: p.grad.clone() for n, p in block.named_parameters()}
    return y.detach(), (x.grad if x.requires_grad else None), grads


def compare(fast, plain, x, grad, monkeypatch, channels_last=False):
    """fast (maybe channels-last) against plain (NCHW, plain formulation) on the same input and output gradient."""
    if channels_last:
        fast.to(memory_format=torch.channels_last)
        x, grad = (t.contiguous(memory_format=torch.channels_last) for t in (x, grad))
    y, gx, gp = run_block(fast, x, grad)
    with monkeypatch.context() as m:
        m.setattr(ConvNormRelu, "forward", plain_forward)
        y0, gx0, gp0 = run_block(plain, x.contiguous(), grad.contiguous())
    assert y.shape == y0.shape and (not channels_last or y.is_contiguous(memory_format=torch.channels_last))
    assert_equal_within(y, y0, "output")
    if gx0 is not None:
        assert_equal_within(gx, gx0, "input gradient")
    for name in gp0:
        assert_equal_within(gp[name], gp0[name], f"gradient of {name}")
    for (name, b), b0 in zip(fast.named_buffers(), plain.buffers(), strict=True):
        assert_equal_within(b, b0, f"buffer {name}")


CASES_2D = [  # (c_in, c_out, layer options, norm, leaky)
    (1, 6, {}, "IN", True),  # the audio encoder's first layer: one input channel, as a matrix product
    (6, 8, {"downsample": True}, "IN", True),
    (8, 8, {"kernel_size": (6, 3), "stride": 1, "padding": 0}, "IN", True),
    (6, 8, {}, "BN", True),
    (1, 6, {"downsample": True}, "BN", True),
    (6, 8, {}, "IN", False),  # ReLU: the NCHW path
]


@pytest.mark.parametrize("channels_last", [False, True], ids=["NCHW", "NHWC"])
@pytest.mark.parametrize("case", CASES_2D, ids=lambda c: f"{c[0]}->{c[1]}-{c[3]}-{'leaky' if c[4] else 'relu'}")
def test_2d_block_equals_the_plain_formulation(case, channels_last, monkeypatch):
    c_in, c_out, options, norm, leaky = case
    torch.manual_seed(0)
    plain = ConvNormRelu(c_in, c_out, dim=2, norm=norm, leaky=leaky, **options)
    if norm == "BN":  # non-trivial affine parameters and running statistics
        with torch.no_grad():
            plain.norm.weight.uniform_(0.5, 1.5)
            plain.norm.bias.uniform_(-0.5, 0.5)
            plain.norm.running_var.uniform_(0.5, 2.0)
    fast = copy.deepcopy(plain)
    x = torch.randn(3, c_in, 20, 31) * 2 + 0.5
    grad = torch.randn_like(plain(x.clone()).detach())
    plain.load_state_dict(fast.state_dict())  # undo that call's running-statistics update
    compare(fast, plain, x, grad, monkeypatch, channels_last)
    if norm == "BN":  # evaluation mode: the running statistics
        fast.eval(), plain.eval()
        for p in (*fast.parameters(), *plain.parameters()):
            p.grad = None
        compare(fast, plain, x, grad, monkeypatch, channels_last)


@pytest.mark.parametrize("norm", ["IN", "BN"])
def test_1d_block_equals_the_plain_formulation(norm, monkeypatch):
    torch.manual_seed(1)
    plain = ConvNormRelu(12, 16, dim=1, norm=norm, leaky=True)
    fast = copy.deepcopy(plain)
    x, grad = torch.randn(4, 12, 32), torch.randn(4, 16, 32)
    compare(fast, plain, x, grad, monkeypatch)


@pytest.mark.parametrize("norm", ["IN", "BN"])
@pytest.mark.parametrize("channels_last", [False, True], ids=["NCHW", "NHWC"])
def test_generator_is_the_same_function(norm, channels_last, monkeypatch):
    """The whole generator (SDT: IN with templates; Speech2Gesture: BN), training mode, in float64: the same
    function as the plain formulation to 1e-10.  (In float32 a whole network is no test of equality: moving one
    LeakyReLU input across 0 by rounding moves the plain formulation's own weight gradients by up to 2e-2, measured
    with a 1e-7 relative perturbation of its input; the blocks above are compared in float32.)"""
    torch.manual_seed(2)
    plain = SequenceGeneratorCNN(GeneratorConfig(template_dim=32 if norm == "IN" else 0, norm=norm, n_frames=32))
    plain.double()
    fast = copy.deepcopy(plain)
    if channels_last:
        fast.audio_encoder.to(memory_format=torch.channels_last)
    mel = torch.rand(2, 80, 59, dtype=torch.float64) ** 4 * 50  # a power spectrogram's range (no log)
    tpl = torch.randn(2, 32, dtype=torch.float64) if norm == "IN" else None
    grad = torch.randn(2, 32, 2, 121, dtype=torch.float64)
    y = fast(mel, tpl)
    y.backward(grad)
    with monkeypatch.context() as m:
        m.setattr(ConvNormRelu, "forward", plain_forward)
        y0 = plain(mel, tpl)
        y0.backward(grad)
    assert (y - y0).abs().max().item() < 1e-10
    for (name, p), p0 in zip(fast.named_parameters(), plain.parameters(), strict=True):
        assert (p.grad - p0.grad).abs().max().item() < 1e-10 * max(1.0, p0.grad.abs().max().item()), name
    for (name, b), b0 in zip(fast.named_buffers(), plain.buffers(), strict=True):
        assert (b.double() - b0.double()).abs().max().item() < 1e-10, name


def test_channels_last_keeps_the_state_dict():
    torch.manual_seed(3)
    net = SequenceGeneratorCNN(GeneratorConfig())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.audio_encoder.to(memory_format=torch.channels_last)
    after = net.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert after["audio_encoder.specgram_encoder_2d.1.0.conv.weight"].is_contiguous(
        memory_format=torch.channels_last)
    SequenceGeneratorCNN(GeneratorConfig()).load_state_dict(after)  # loads into a plain NCHW module


def test_fast_layout_follows_the_cpu():
    net = fast_layout(SequenceGeneratorCNN(GeneratorConfig()), "cpu")
    assert all(m.fast for m in net.modules() if isinstance(m, ConvNormRelu))
    weight = net.audio_encoder.specgram_encoder_2d[0][1].conv.weight
    assert weight.is_contiguous(memory_format=torch.channels_last) == channels_last_pays("cpu")
    assert channels_last_pays("cpu") == torch.backends.cpu.get_cpu_capability().startswith("AVX512")
    assert not channels_last_pays("meta")
    plain = nn.Conv1d(2, 2, 1)
    assert fast_layout(plain, "cpu") is plain  # no audio encoder: unchanged


def test_other_norms_of_nhwc_activations_run_on_nchw():
    """A batch norm the fast path does not know (a subclass, as sync_bn's GlobalBatchNorm) gets NCHW activations:
    PyTorch's NHWC batch norm sums in one float accumulator (measured 1.7e-3 off over a batch of 32 maps)."""

    class OtherBatchNorm(nn.BatchNorm2d):
        pass

    torch.manual_seed(4)
    block = ConvNormRelu(4, 8, dim=2, norm="BN", leaky=True)
    block.norm = OtherBatchNorm(8)
    x = torch.randn(16, 4, 64, 128) * 3 + 10
    want = plain_forward(block, x.clone()).detach().double()
    block.to(memory_format=torch.channels_last)
    got = block(x.contiguous(memory_format=torch.channels_last)).detach().double()
    native = nn.functional.leaky_relu(block.norm(block.conv(x.contiguous(memory_format=torch.channels_last))), 0.2)
    assert_equal_within(got, want, "output")
    assert (native.detach().double() - want).abs().max().item() > TOL  # what the fallback avoids
