"""MoGlow (Henter et al., ACM TOG 2020) as the SDT paper ran it (docs/networks.md §2; the flow and its choices:
models/moglow.py): exact negative log-likelihood of the normalised poses given the mel spectrogram, in nats per
pose value.

Choices the papers leave open, made here: the mel input's standardisation statistics are fitted once, before the
first step, on up to 4096 evenly spaced training clips; gradients are clipped as in MoGlow's gesture code
(StyleGestures: each gradient value to +-5, then the global norm to 100), since the log-determinant of an untrained
flow gives rare, very large gradients; ActNorm initialises itself on the first training batch (Glow).  Optimiser,
batch and schedule are every method's (config ``train:``).  Validation goes through evaluate's code
(sdt/train/validate.py); :func:`predict` (the videos while training) samples each clip once from z ~ N(0, I)
(temperature 1: the model's own distribution; evaluation's temperature is config ``evaluate.temperature``), drawn on
the CPU from the given generator (the same draws every epoch, on any device).
"""

from dataclasses import asdict

import torch

from models.moglow import MoGlow, MoGlowConfig
from sdt.families.steps import backward, fit_subset

CHUNK = 128  # clips per mel pass while fitting the input statistics
GRAD_VALUE, GRAD_NORM = 5.0, 100.0  # StyleGestures' max_grad_clip and max_grad_norm


def build(definition, settings):
    cfg = MoGlowConfig(**definition.net)
    return {"netG": MoGlow(cfg)}, {"netG": asdict(cfg)}


def init_state(run, n_train, fixed_templates):
    pass


@torch.no_grad()
def prepare(run, train_set):
    net, rows = run.nets["netG"], fit_subset(len(train_set))
    pooled = []
    for i in range(0, len(rows), CHUNK):
        mel = run.features(train_set[rows[i:i + CHUNK]]["audio"].to(run.device))  # (n, 80, 427)
        pooled.append(net.pose_rate_mel(mel, net.frames_spanned(mel)))  # (n, 80, 64)
    net.mel_norm.fit(torch.cat(pooled))


def _clip(params):
    torch.nn.utils.clip_grad_value_(params, GRAD_VALUE)
    torch.nn.utils.clip_grad_norm_(params, GRAD_NORM)


def step(run, batch):
    mel = run.features(batch["audio"])
    with run.autocast():
        nll = run.net("netG").nll(batch["poses"], mel)
    loss = nll.float()
    run.check(loss, run.method)
    backward([run.opts["netG"]], loss, clip=_clip)
    return {"loss": loss.item(), "nll": loss.item()}


def predict(run, batch, generator=None):
    """One sample per clip at temperature 1."""
    net, mel = run.nets["netG"], run.features(batch["audio"])
    shape = (len(mel), net.frames_spanned(mel), net.cfg.dim)
    z = torch.randn(shape, generator=generator)
    return net.inverse(z.to(run.device), mel).float()


# -- inference (sdt.inference.GestureModel) ---------------------------------------------------------------------------
def infer(net, mel, z):
    """mel [B, 80, T] and the latent z [B, T', 2 x 121] (temperature x N(0, I)) -> normalised poses [B, T', 2, 121]."""
    return net.inverse(z, mel)


def latent_shape(net, n_frames):
    """The shape of one clip's z: [n_frames, 2 x 121]."""
    return (n_frames, net.cfg.dim)


def latent_frames(net, mel):
    """The frames a mel spectrogram spans (64 for a clip's 427 mel frames)."""
    return net.frames_spanned(mel)
