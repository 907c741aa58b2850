"""What the families' training steps share (sdt/families/<family>.py)."""

import torch


def backward(opts, loss, clip=None):
    """Zero the optimisers' gradients, back-propagate ``loss``, optionally ``clip(parameters)``, step them."""
    for opt in opts:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        clip([p for opt in opts for group in opt.param_groups for p in group["params"] if p.grad is not None])
    for opt in opts:
        opt.step()


def fit_subset(n, limit=4096):
    """Indices of at most ``limit`` evenly spaced clips of ``n``: enough frames for input statistics (mean and std
    per channel over limit x 64 frames) without reading a large training split twice."""
    return torch.linspace(0, n - 1, min(n, limit)).round().long().unique().tolist()
