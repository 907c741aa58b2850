"""Faster formulations of the conv-norm-activation block (models/blocks.py) for ``train.fast`` only
(``ConvNormRelu.fast``, set by sdt.device.fast_layout): not the release's numerics after a training step.

Measured (issue 20): one full-size train-mode step (batch 32) with Adam moves the weights up to 2e-4 away from the
release's plain ops (about 2 x lr: Adam's first update is ~lr * sign(grad), so elements with near-zero gradient flip
with rounding-level gradient changes), on AVX-512 and AVX2 alike.  Causes: the one-channel first convolution as a
matrix product (its weight gradient is closer to float64, 1e-6 against Conv2d's 1.5e-5, but not Conv2d's numbers);
on channels-last, oneDNN's NHWC convolutions and PyTorch's NHWC batch norm (backward 1e-4 relative off float64 over
a [32, 64, 80, 427] map: one float accumulator).  The default path is the plain ops, NCHW: bit-equal to the release.

Same parameters, same state-dict keys, same results within float32 rounding: tests/models/test_fused.py checks outputs
and gradients against the plain formulation (``F.conv2d``, ``F.instance_norm`` / ``F.batch_norm``, LeakyReLU) to 1e-5 on
random inputs.  Why each exists (measured in benchmarks/README.md, "the training step"):

- ``conv``: a 2D convolution with one input channel (the audio encoder's first layer, [B, 1, 80, 427] -> 64
  channels) runs at ~10 GFLOP/s in oneDNN, ~15x below its other layers; as one matrix product over the 9 taps
  (``F.unfold``) it costs about what writing its 280 MB output costs.
- ``norm_act``: ``F.instance_norm`` returns a *view* of ``F.batch_norm``'s output, so the release's in-place
  LeakyReLU on it makes autograd keep CopySlices/AsStrided nodes that clone the full activation in the backward
  pass (~3 extra passes over 280 MB for the first layer).  Instance norm as ``F.group_norm`` with one group per
  channel (the same statistics) returns a plain tensor; the activation then runs in place on it.
- channels-last (NHWC) activations (sdt.device.fast_layout, on AVX-512 CPUs): oneDNN's convolutions read and write
  NHWC natively there, while plain NCHW tensors are reordered to its blocked layout and back around every
  convolution (and a strided convolution's input gradient is copied once more).  PyTorch's own NHWC batch and
  group norms sum in a single float accumulator (errors 2e-3 over a batch of 32, 3e-5 over one 80x427 map), so
  NHWC norms are :class:`_NormLeakyNHWC`, built from ATen's pairwise-summed reductions.
"""

import torch
import torch.nn.functional as F
from torch import nn


def conv(module, x):
    """``module(x)``; a 2D convolution with one input channel as a matrix product over its unfolded taps.

    x: (B, 1, H, W) -> (B, C_out, H_out, W_out), channels-last when the weight is (the encoder's NHWC mode).
    """
    one_channel = (isinstance(module, nn.Conv2d) and module.in_channels == 1 and module.groups == 1
                   and module.padding_mode == "zeros" and isinstance(module.padding, tuple))
    if not one_channel or _mixed_precision(x) or x.device.type != "cpu":  # measured on CPUs; cuDNN has its own
        return module(x)
    w = module.weight  # (C_out, 1, kh, kw)
    out_h, out_w = (
        (size + 2 * p - d * (k - 1) - 1) // s + 1
        for size, k, s, p, d in zip(x.shape[2:], w.shape[2:], module.stride, module.padding, module.dilation,
                                    strict=True)
    )
    cols = F.unfold(x, w.shape[2:], module.dilation, module.padding, module.stride)  # (B, kh * kw, L)
    w2 = w.reshape(len(w), -1)  # (C_out, kh * kw)
    if w.stride(1) == 1 and w.shape[2] * w.shape[3] > 1:  # a channels-last weight: NHWC output
        y = torch.matmul(cols.transpose(1, 2), w2.t())  # (B, L, C_out)
        y = y.view(len(x), out_h, out_w, len(w)).permute(0, 3, 1, 2)  # (B, C_out, H', W') as NHWC
    else:
        y = torch.matmul(w2, cols).view(len(x), len(w), out_h, out_w)  # (B, C_out, H', W')
    if module.bias is not None:
        y = y + module.bias.view(1, -1, 1, 1)
    return y


def _mixed_precision(x):
    """Under autocast or on half-precision tensors (``train.fast``) the plain ops keep autocast's own choices."""
    return x.dtype not in (torch.float32, torch.float64) or torch.is_autocast_enabled(x.device.type)


def _slope(act):
    """The negative slope of a (Leaky)ReLU module, None for anything else."""
    if isinstance(act, nn.LeakyReLU):
        return float(act.negative_slope)
    if isinstance(act, nn.ReLU):
        return 0.0
    return None


def _nhwc(x):
    """x is a channels-last (B, C, H, W) tensor (C > 1, so the layout is not ambiguous)."""
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def norm_act(x, norm, act):
    """``act(norm(x))`` for the block's norm and (Leaky)ReLU, computed without the extra passes of the plain ops."""
    slope = None if _mixed_precision(x) else _slope(act)
    kind = type(norm)
    if slope is not None and kind is nn.InstanceNorm2d and not norm.affine and not norm.track_running_stats:
        if _nhwc(x):
            return _NormLeakyNHWC.apply(x, None, None, True, norm.eps, slope)[0]
        # instance norm = group norm with a group per channel; its output is no view, so the activation is in place
        return F.leaky_relu_(F.group_norm(x.contiguous(), x.shape[1], eps=norm.eps), slope)
    if slope is not None and kind is nn.BatchNorm2d and (norm.training or not norm.track_running_stats) and _nhwc(x):
        return _batch_norm_leaky_nhwc(x, norm, slope)
    if slope is not None and _nhwc(x) and x.device.type == "cpu" and _sums_over_x(norm):
        x = x.contiguous()  # other NHWC norms: PyTorch's own NHWC kernels sum in one float accumulator (see above)
    y = norm(x)
    if slope is not None and y._is_view():  # e.g. TimeStepNorm's transposed output: in place would clone it back
        return F.leaky_relu(y, slope)
    return act(y)


def _sums_over_x(norm):
    """A batch/instance norm that computes statistics of its input (not a batch norm using running statistics)."""
    if isinstance(norm, nn.modules.batchnorm._BatchNorm):
        return norm.training or not norm.track_running_stats
    return isinstance(norm, nn.modules.batchnorm._NormBase)


def _batch_norm_leaky_nhwc(x, norm, slope):
    """Training-mode nn.BatchNorm2d (batch statistics, running statistics updated as it does) + LeakyReLU, NHWC."""
    y, mean, var = _NormLeakyNHWC.apply(x, norm.weight, norm.bias, False, norm.eps, slope)
    if norm.training and norm.track_running_stats:
        with torch.no_grad():
            norm.num_batches_tracked.add_(1)
            m = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
            n = x.numel() // x.shape[1]
            norm.running_mean.mul_(1 - m).add_(mean.view(-1), alpha=m)
            norm.running_var.mul_(1 - m).add_(var.view(-1), alpha=m * n / max(n - 1, 1))  # unbiased, as F.batch_norm
    return y


class _NormLeakyNHWC(torch.autograd.Function):
    """LeakyReLU(norm(x)) on a channels-last (B, C, H, W) tensor -> (y, mean, biased var).

    ``per_item``: instance norm, each (b, c) over H x W; else batch norm, each c over B x H x W (training mode), with
    the optional affine ``weight``/``bias``.  Seen as (G, N, C) (G = B or 1), every reduction runs over the middle
    axis with ATen's pairwise-summed reductions; the variance is the mean of squared deviations (two passes).
    Saved for the backward pass: the output and the deviations x - mean (the memory that the plain ops keep: their
    input and output).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, per_item, eps, slope):
        b, c, h, w = x.shape
        xv = x.permute(0, 2, 3, 1).reshape(b if per_item else 1, -1, c)  # a view of the NHWC memory
        mean = xv.mean(1, keepdim=True)  # (G, 1, C)
        d = xv - mean
        y = torch.mul(d, d)
        var = y.mean(1, keepdim=True)
        rstd = torch.rsqrt(var + eps)
        scale = rstd if weight is None else rstd * weight
        if bias is None:
            torch.mul(d, scale, out=y)
        else:
            torch.addcmul(bias, d, scale, out=y)
        F.leaky_relu_(y, slope)
        ctx.save_for_backward(y, d, rstd, weight)
        ctx.slope, ctx.has_bias = slope, bias is not None
        ctx.mark_non_differentiable(mean, var)
        return y.view(b, h, w, c).permute(0, 3, 1, 2), mean, var

    @staticmethod
    def backward(ctx, grad, _mean, _var):
        y, d, rstd, weight = ctx.saved_tensors
        gv = grad.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1).reshape(y.shape)
        g = torch.ops.aten.leaky_relu_backward(gv, y, ctx.slope, True)  # gradient at the norm's output
        mean_g = g.mean(1, keepdim=True)
        mean_gd = torch.mul(g, d).mean(1, keepdim=True)
        n = y.shape[1]
        grad_w = (rstd * mean_gd * n).view(-1) if weight is not None and ctx.needs_input_grad[1] else None
        grad_b = (mean_g * n).view(-1) if ctx.has_bias and ctx.needs_input_grad[2] else None
        scale = rstd if weight is None else rstd * weight
        # dx = scale * (g - mean(g) - xhat * mean(g * xhat)), xhat = d * rstd
        dx = torch.addcmul(-scale * mean_g, g, scale, out=g)
        dx.addcmul_(d, -scale * rstd.square() * mean_gd)
        b, c, h, w = grad.shape
        return dx.view(b, h, w, c).permute(0, 3, 1, 2), grad_w, grad_b, None, None, None
