"""Audio to Body Dynamics (Shlizerman et al., CVPR 2018) as the SDT paper ran it (docs/networks.md §2; the network and
its choices: models/audio2body.py).  Input: 28-channel MFCC at the pose rate (models.features.MFCC), standardised with
statistics of the training clips (fitted once, before the first step, on up to 4096 evenly spaced clips); loss:
the release's summed squared error per frame (models.audio2body.audio2body_loss).  The optimiser, batch and
schedule are every method's (config ``train:``): the SDT paper trains its baselines on the same clips and says
nothing of their optimisers (the original used Adam, lr 1e-3, batch 100)."""

from dataclasses import asdict

import torch
import torch.nn.functional as F

from models.audio2body import Audio2Body, Audio2BodyConfig, audio2body_loss
from sdt.families.steps import backward, fit_subset

CHUNK = 256  # clips per feature pass while fitting the input statistics


def build(definition, settings):
    cfg = Audio2BodyConfig(**definition.net)
    return {"netG": Audio2Body(cfg)}, {"netG": asdict(cfg)}


def init_state(run, n_train, fixed_templates):
    pass


@torch.no_grad()
def prepare(run, train_set):
    rows = fit_subset(len(train_set))
    feats = [run.features(train_set[rows[i:i + CHUNK]]["audio"].to(run.device)) for i in range(0, len(rows), CHUNK)]
    run.nets["netG"].fit_input_stats(torch.cat(feats))  # [n, 28, 64]


def step(run, batch):
    feats = run.features(batch["audio"])  # (B, 28, 64)
    with run.autocast():
        pred = run.net("netG")(feats)
    pred = pred.float()
    loss = audio2body_loss(pred, batch["poses"])
    run.check(loss, run.method)
    backward([run.opts["netG"]], loss)
    return {"loss": loss.item(), "l1": F.l1_loss(pred.detach(), batch["poses"]).item()}


def predict(run, batch, generator=None):
    return run.nets["netG"](run.features(batch["audio"])).float()


# -- inference (sdt.inference.GestureModel) ---------------------------------------------------------------------------
def infer(net, mfcc, latent=None):
    """mfcc [B, 28, 64] -> normalised poses [B, 64, 2, 121]; draws nothing at random."""
    return net(mfcc)
