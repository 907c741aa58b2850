"""Validation every epoch (the release's TRAIN.VALIDATE, docs/networks.md §5) on the speaker's dev clips.

A generator is validated by the evaluation's own code (sdt.evaluate.evaluate.evaluate_split), so an epoch's numbers
are exactly what ``evaluate`` computes for that epoch's model with ``template: random_train`` and the training
seed (the release's validation draws random training templates too): L2, lip-sync error, PCK and, with the
speaker's pose VAE (``train.validate_ftd``), FTD on mu and on [mu, logvar] (a global-pose model: on both encoder
inputs, FTD itself on ``ftd_global_input``).  Every family goes through the same code (sdt.inference.GestureModel):
MoGlow samples its latents at temperature 1, seeded like evaluate's.  The pose VAE itself is validated by its
reconstruction (L1 on normalised poses and L2 in px, sdt.train.engine.evaluate).
"""

import logging
import math

from sdt.errors import InputError
from sdt.evaluate.evaluate import DevClips, EvalSettings, evaluate_split
from sdt.evaluate.metrics import FTD_BY_INPUT
from sdt.inference import GestureModel, load_pose_encoder
from sdt.methods import POSE_VAE
from sdt.train import engine
from sdt.train.data import EpochBatchSampler, batch_loader

log = logging.getLogger(__name__)


def validation_settings(settings):
    """What ``evaluate`` is given to compute the same numbers: random training templates drawn with the training
    seed, no diversity samples, the same FTD input."""
    return EvalSettings(template="random_train", seeds=(settings.seed,), diversity_samples=0,
                        ftd_global_input=settings.ftd_global_input)


def gesture_model(run):
    """The run's generator as the evaluation's model (shares its weights; puts it in eval mode)."""
    templates = None if run.templates is None else run.templates.detach()
    return GestureModel(run.method, run.definition, run.nets["netG"], templates, run.stats, run.parted, run.device)


class Validation:
    """Called after each training epoch: {val_<metric>: value}."""

    def __init__(self, run, dev_set, data, ftd_vae=None):
        self.settings = validation_settings(run.settings)
        self.loader = self.clips = self.encoder = None
        if run.method == POSE_VAE.name:
            self.loader = batch_loader(dev_set, EpochBatchSampler(len(dev_set), run.settings.batch_size, 0,
                                                                  shuffle=False)) if len(dev_set) else None
            return
        try:
            self.clips = DevClips(data["dev_poses"], data["dev_audio"])
        except InputError as err:
            log.warning("no validation: %s", err)
            return
        if run.settings.validate_ftd:
            if ftd_vae is None:
                raise ValueError("train.validate_ftd is on but no pose VAE was given: set validate_ftd false for a "
                                 "config without a pose VAE")
            self.encoder = load_pose_encoder(ftd_vae, run.device, stats=run.stats)

    def __call__(self, run):
        if run.method == POSE_VAE.name:
            return engine.evaluate(run, self.loader)
        if self.clips is None:  # fewer than 2 dev clips (logged)
            return {}
        (scores,) = evaluate_split(run.method, self.clips, self.encoder, run.stats, self.settings, gesture_model(run),
                                   progress=False)
        keep = {k: v for k, v in scores.items() if k not in ("seed", "diversity")}
        if run.parted:  # both FTD inputs are the same for a parted model
            keep = {k: v for k, v in keep.items() if k not in FTD_BY_INPUT}
        return {f"val_{k}": (math.nan if v is None else v) for k, v in keep.items()}
