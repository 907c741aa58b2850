"""The shared conv-norm-activation block of Speech Drives Templates (Qian et al., ICCV 2021; docs/networks.md §1).

Every network of the paper (audio encoder, generator U-Net and decoder, motion discriminator, pose VAE) is a
stack of ``ConvNormRelu``.  Its submodules are named ``conv`` and ``norm`` as in the authors' release, so
release keys ``<layer>.conv.weight`` / ``<layer>.norm.{weight,bias,running_mean,...}`` load without renaming.
``Standardize`` is the fixed input normalisation of the recurrent baselines (Audio2Body, MoGlow).
"""

import torch
import torch.nn.functional as F
from torch import nn

from models import fused

NORMS = ("BN", "IN", "IN_frames")


class TimeStepNorm(nn.Module):
    """The release's 1D "instance norm": each time step normalised across its channels, no affine parameters.

    It equals ``nn.InstanceNorm1d`` applied to the transposed tensor [B, T, C] (which is how the release
    computes it), i.e. a parameter-free layer norm over the channel axis (so no state-dict keys).
    """

    def __init__(self, eps=1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x):  # (B, C, T)
        return F.layer_norm(x.transpose(1, 2), x.shape[1:2], eps=self.eps).transpose(1, 2)


def make_norm(norm, dim, channels):
    """BN: batch norm with affine parameters.  IN (the release's): no affine; 2D = per-channel instance norm over
    the map, 1D = per-time-step norm across channels (:class:`TimeStepNorm`; the paper's "IN*", Table 3).
    IN_frames: no affine; the standard instance norm in 1D too, each channel over the frames (the paper's "IN")."""
    if norm == "BN":
        return nn.BatchNorm1d(channels) if dim == 1 else nn.BatchNorm2d(channels)
    if norm == "IN":
        return TimeStepNorm() if dim == 1 else nn.InstanceNorm2d(channels)
    if norm == "IN_frames":
        return nn.InstanceNorm1d(channels) if dim == 1 else nn.InstanceNorm2d(channels)
    raise ValueError(f"unknown norm {norm!r}: expected one of {NORMS}")


class ConvNormRelu(nn.Module):
    """conv (no bias, Kaiming-normal init) -> norm -> ReLU / LeakyReLU(0.2).

    Default kernel 3, stride 1, pad 1 (same length); ``downsample``: kernel 4, stride 2, pad 1 (half length).
    ``kernel_size``/``stride``/``padding`` override both (the audio encoder's last (6, 3) layer).
    """

    def __init__(self, in_channels, out_channels, dim=1, downsample=False, kernel_size=None, stride=None,
                 padding=None, norm="BN", leaky=False):
        super().__init__()
        if dim not in (1, 2):
            raise ValueError(f"dim must be 1 or 2, got {dim}")
        k, s, p = (4, 2, 1) if downsample else (3, 1, 1)
        k = k if kernel_size is None else kernel_size
        s = s if stride is None else stride
        p = p if padding is None else padding
        conv = nn.Conv1d if dim == 1 else nn.Conv2d
        self.conv = conv(in_channels, out_channels, k, s, p, bias=False)
        nn.init.kaiming_normal_(self.conv.weight)
        self.norm = make_norm(norm, dim, out_channels)
        self.act = nn.LeakyReLU(0.2, inplace=True) if leaky else nn.ReLU(inplace=True)

    fast = False  # models/fused.py's formulations instead of the release's ops (use_fast_blocks; train.fast only)

    def forward(self, x):  # (B, C_in, T) or (B, C_in, H, W)
        if self.fast:  # fewer passes; not the release's numerics to 1e-5 after a step (models/fused.py)
            return fused.norm_act(fused.conv(self.conv, x), self.norm, self.act)
        return self.act(self.norm(self.conv(x)))  # the release's formulation


def use_fast_blocks(net, on=True):
    """Every :class:`ConvNormRelu` of ``net`` computed with models/fused.py's formulations (``on``) or the release's
    plain ops (the default); parameters and state-dict keys unchanged.  Returns ``net``."""
    for module in net.modules():
        if isinstance(module, ConvNormRelu):
            module.fast = bool(on)
    return net


class Standardize(nn.Module):
    """x [B, C, T] -> (x - mean) / std per channel, with statistics of the training set.

    ``mean`` and ``std`` [C] are persistent buffers (a checkpoint carries them), identity until :meth:`fit`
    sets them once from training features before training: an LSTM's gates saturate on raw dB-scale inputs
    (MFCC c0 is in the hundreds), and fixed statistics keep evaluation independent of the batch.
    """

    def __init__(self, channels, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    @torch.no_grad()
    def fit(self, x):  # (N, C, T): training features
        flat = x.transpose(0, 1).reshape(x.shape[1], -1).to(torch.float64)  # (C, N T)
        self.mean.copy_(flat.mean(dim=1))
        self.std.copy_(flat.std(dim=1, unbiased=False) + self.eps)
        return self

    def forward(self, x):  # (B, C, T)
        return (x - self.mean[:, None].to(x.dtype)) / self.std[:, None].to(x.dtype)
