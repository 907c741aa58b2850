"""Fine-tuning: a run whose networks start from a trained model's weights (``train.init_from``, per speaker and
method; the release's ``--pretrain_from`` / TRAIN.PRETRAIN_FROM, docs/networks.md §5).

The source is this workflow's model (``.pt``, any speaker) or the authors' checkpoint (``.pth``, read by
sdt.release_checkpoint).  Only weights are taken, as the release does: the optimisers, schedules and counters
start fresh.  The template table (SDT-BP) starts new for this speaker's training clips (zeros), unless
``train.init_templates`` asks to take the source's over, which needs the same number of rows (the same
training clips).  SDT-VAE's templates always come from this speaker's pose VAE.  The run records where it
started (``Run.init_info``, in its checkpoints and model).
"""

import logging
from dataclasses import asdict

import torch

from sdt.checkpoint import load_checkpoint
from sdt.errors import InputError
from sdt.io import sha256
from sdt.methods import POSE_VAE

log = logging.getLogger(__name__)


def source_weights(path, method):
    """{"format", "method", "state_dicts": {network: state dict}, "configs": {network: dict}, "templates"} of a
    model to start ``method`` from: our checkpoint or the release's."""
    ckpt = load_checkpoint(path)
    if isinstance(ckpt, dict) and "model_configs" in ckpt:
        return {"format": "ours", "method": ckpt["method"], "state_dicts": ckpt["state_dicts"],
                "configs": ckpt["model_configs"], "templates": ckpt.get("templates")}
    from sdt.release_checkpoint import load_release_checkpoint

    kind = "vae" if method == POSE_VAE.name else "audio2pose"
    rel = load_release_checkpoint(ckpt if isinstance(ckpt, dict) else path, kind=kind)
    nets = {"vae": rel["vae"]} if kind == "vae" else {"netG": rel["generator"], "netD": rel["discriminator"]}
    nets = {k: v for k, v in nets.items() if v is not None}
    return {"format": "release", "method": f"release {kind}", "templates": rel.get("templates"),
            "state_dicts": {k: v.state_dict() for k, v in nets.items()},
            "configs": {k: asdict(v.cfg) for k, v in nets.items()}}


def _load_network(path, name, net, state, config, want):
    if config is not None and config != want:
        diff = ", ".join(f"{k} {config.get(k)!r} (needs {v!r})" for k, v in want.items() if config.get(k) != v)
        raise InputError(path, f"its {name} is another network: {diff}")
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise InputError(path, f"its {name} weights do not fit this network ({err})") from err


def _templates(path, run, source):
    """How the template table starts: 'taken over' (init_templates and it fits), 'new', 'fixed' or None."""
    if not isinstance(run.templates, torch.nn.Parameter):
        return None if run.templates is None else "fixed"  # SDT-VAE: this speaker's VAE means
    if not run.settings.init_templates:
        return "new"
    table = source["templates"]
    if table is None or tuple(table.shape) != tuple(run.templates.shape):
        got = "no template table" if table is None else f"a table of shape {tuple(table.shape)}"
        raise InputError(path, f"train.init_templates: it has {got}, this run's table is "
                               f"{tuple(run.templates.shape)} (one row per training clip); set init_templates false "
                               "to start a new table")
    with torch.no_grad():
        run.templates.copy_(table.to(run.templates.device))
    return "taken over"


def init_from(run, path):
    """Load the weights of the model at ``path`` into ``run``'s networks (all of those the source has; at least
    one) and record it in ``run.init_info``."""
    source = source_weights(path, run.method)
    loaded = [name for name in run.nets if name in source["state_dicts"]]
    if not loaded:
        raise InputError(path, f"holds none of the networks of {run.method} ({', '.join(run.nets)}): it is a "
                               f"{source['method']} model")
    for name in loaded:
        _load_network(path, name, run.nets[name], source["state_dicts"][name], source["configs"].get(name),
                      run.configs[name])
    run.init_info = {"path": str(path), "sha256": sha256(path), "format": source["format"],
                     "source_method": source["method"], "networks": loaded,
                     "fresh": [n for n in run.nets if n not in loaded], "templates": _templates(path, run, source)}
    log.info("fine-tuning from %s (%s %s): weights of %s; fresh: %s; templates: %s", path, source["format"],
             source["method"], ", ".join(loaded), ", ".join(run.init_info["fresh"]) or "none",
             run.init_info["templates"])
    return run.init_info
