"""One module per network family: what a training run of that family builds and computes, so that the epoch loop
(sdt/train/engine.py, sdt/train/train.py) stays generic.  Each module defines

    build(definition, settings) -> (nets {name: module}, configs {name: asdict(config)})
    init_state(run, n_train, fixed_templates)   templates, buffers, feature extractors of a fresh run
    prepare(run, train_set)                     fits what the networks need from the training clips (or nothing)
    step(run, batch) -> {loss name: float}      one optimisation step on a batch
    predict(run, batch, generator)              normalised poses [B, 64, 2, 121] (validation)

Families: unet (SDT-BP, SDT-VAE, Speech2Gesture and the ablations), pose_vae, audio2body, moglow.  They are loaded by
name (:func:`family`), so a training rule's code digest holds its own family's module and networks only
(rules/common.smk's ``code(..., modules=...)``): editing models/moglow.py reruns no U-Net training.
"""

import importlib

import torch


def family(name):
    """The step module of a family (sdt.train.steps.<name>)."""
    return importlib.import_module(f"{__name__}.{name}")


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
