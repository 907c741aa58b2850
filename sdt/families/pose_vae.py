"""The pose-sequence VAE (docs/networks.md §1, §3): SDT-VAE's templates and every method's FTD.  L1 reconstruction +
vae_kl_weight x KL; it keeps every training clip's posterior mean and log-variance (``clip_code_mu``,
``clip_code_logvar``), updated each step, as the release does.  Distributed (sdt/train/distributed.py): each
process draws the reparameterisation noise of the global batch and keeps its clips' rows, and the buffers are
updated with the global batch, so every process holds every clip's posterior."""

from dataclasses import asdict

import torch
import torch.nn.functional as F

from models.pose_vae import PoseSeqVAE, PoseVAEConfig, vae_kl
from sdt.families.steps import backward


def build(definition, settings):
    cfg = PoseVAEConfig(**{"code_dim": settings.template_dim, **definition.net})
    return {"vae": PoseSeqVAE(cfg)}, {"vae": asdict(cfg)}


def init_state(run, n_train, fixed_templates):
    dim = run.nets["vae"].cfg.code_dim
    run.buffers = {k: torch.zeros(n_train, dim, device=run.device) for k in ("clip_code_mu", "clip_code_logvar")}


def prepare(run, train_set):
    pass


def step(run, batch):
    poses = batch["poses"]
    noise = run.batch_noise(batch["index"], run.nets["vae"].cfg.code_dim)  # what one process would draw
    with run.autocast():
        recon, mu, logvar = run.net("vae")(poses, noise=noise)
    recon, mu, logvar = recon.float(), mu.float(), logvar.float()
    l1 = F.l1_loss(recon, poses)
    kl = vae_kl(mu, logvar)
    loss = l1 + run.settings.vae_kl_weight * kl
    run.check(loss, "pose_vae")
    backward([run.opts["vae"]], loss)
    with torch.no_grad():  # the release keeps every training clip's posterior (SDT-VAE's templates): of the
        index = run.global_batch(batch["index"])  # global batch, so that every process holds all of them
        dtype = run.buffers["clip_code_mu"].dtype
        run.buffers["clip_code_mu"][index] = run.global_batch(mu.detach()).to(dtype)
        run.buffers["clip_code_logvar"][index] = run.global_batch(logvar.detach()).to(dtype)
    return {"loss": loss.item(), "l1": l1.item(), "kl": kl.item()}


def predict(run, batch, generator=None):
    """The reconstruction of the batch's poses (eval mode decodes the posterior mean)."""
    return run.nets["vae"](batch["poses"])[0]
