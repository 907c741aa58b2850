"""One training step per method, one epoch loop, one validation pass (SDT_SPEC 5).

A method's networks and optimisers live in a ``Run`` (sdt/train/run.py); these functions only compute.
"""

import math

import torch
import torch.nn.functional as F
from tqdm import tqdm

from models.discriminator import lsgan_discriminator_loss, lsgan_generator_loss
from models.pose_vae import template_kl, vae_kl
from sdt.poses import final_results
from sdt.train import distributed


class NonFiniteLoss(FloatingPointError):
    pass


def check_finite(loss, epoch, step, name):
    """Stop training on a non-finite loss, naming the loss, the epoch and the step."""
    if not torch.isfinite(loss):
        raise NonFiniteLoss(f"non-finite {name} loss ({loss.item()}) at epoch {epoch}, step {step}: "
                            "training stopped (lower the learning rate or check the data)")


def _backward(opts, loss):
    for opt in opts:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    for opt in opts:
        opt.step()


def step_pose_vae(run, batch):
    poses = batch["poses"]
    noise = run.batch_noise(batch["index"], run.settings.template_dim)  # what one process would draw
    with run.autocast():
        recon, mu, logvar = run.net("vae")(poses, noise=noise)
    recon, mu, logvar = recon.float(), mu.float(), logvar.float()
    l1 = F.l1_loss(recon, poses)
    kl = vae_kl(mu, logvar)
    loss = l1 + run.settings.vae_kl_weight * kl
    run.check(loss, "pose_vae")
    _backward([run.opts["vae"]], loss)
    with torch.no_grad():  # the release keeps every training clip's posterior (SDT-VAE's templates): of the
        index = run.global_batch(batch["index"])  # global batch, so that every process holds all of them
        run.buffers["clip_code_mu"][index] = run.global_batch(mu.detach()).to(run.buffers["clip_code_mu"].dtype)
        run.buffers["clip_code_logvar"][index] = run.global_batch(logvar.detach()).to(run.buffers["clip_code_mu"].dtype)
    return {"loss": loss.item(), "l1": l1.item(), "kl": kl.item()}


def step_sdt(run, batch):
    """SDT-BP (trainable template table) and SDT-VAE (fixed VAE templates) share this step."""
    mel = run.mel(batch["audio"])
    templates = run.templates[batch["index"]]  # [B, D]
    with run.autocast():
        pred = run.net("netG")(mel, templates)
    l1 = F.l1_loss(pred.float(), batch["poses"])
    out = {"l1": l1.item()}
    loss = l1
    opts = [run.opts["netG"]]
    if run.method == "sdt_bp":  # over the global batch when distributed (the release: per process)
        kl = template_kl(run.global_batch(templates))
        loss = loss + run.settings.template_kl_weight * kl
        opts.append(run.opts["templates"])
        out["template_kl"] = kl.item()
    run.check(loss, run.method)
    _backward(opts, loss)
    out["loss"] = loss.item()
    return out


def step_s2g(run, batch):
    """Speech2Gesture: a generator step (L1 + gan_weight * LSGAN) then a discriminator step on the same
    prediction, detached (gan_weight * LSGAN: real to 1, fake to 0).  The release weights both GAN losses by
    LAMBDA_GAN (core/pipelines/voice2pose.py: ``D_pose_gan_loss = (real + fake) * LAMBDA_GAN``); SDT_SPEC 5."""
    mel = run.mel(batch["audio"])
    weight = run.settings.gan_weight
    netD = run.net("netD")
    with run.autocast():
        pred = run.net("netG")(mel, None)
    pred = pred.float()
    l1 = F.l1_loss(pred, batch["poses"])
    g_gan = lsgan_generator_loss(netD(pred))
    loss = l1 + weight * g_gan
    run.check(loss, "s2g generator")
    _backward([run.opts["netG"]], loss)  # netD's gradients from this pass are cleared by the next zero_grad

    d_gan = lsgan_discriminator_loss(netD(batch["poses"]), netD(pred.detach()))
    d_loss = weight * d_gan
    run.check(d_loss, "s2g discriminator")
    _backward([run.opts["netD"]], d_loss)
    return {"loss": loss.item(), "l1": l1.item(), "g_gan": g_gan.item(), "d_loss": d_loss.item()}


STEPS = {"pose_vae": step_pose_vae, "sdt_bp": step_sdt, "sdt_vae": step_sdt, "s2g": step_s2g}


def train_one_epoch(run, loader, epoch, progress=True) -> dict[str, float]:
    run.train_mode(True)
    step_fn = STEPS[run.method]
    sums, n = {}, 0
    bar = tqdm(loader, desc=f"{run.method} epoch {epoch}", leave=False, disable=not progress, unit="batch")
    for batch in bar:
        batch = {k: v.to(run.device, non_blocking=True) for k, v in batch.items()}
        run.epoch, run.step = epoch, run.step + 1
        logs = step_fn(run, batch)
        for k, v in logs.items():
            sums[k] = sums.get(k, 0.0) + v
        n += 1
        bar.set_postfix(loss=f"{logs['loss']:.4f}")
        run.log_scalars("train_step", logs, run.step)
    means = {k: v / max(n, 1) for k, v in sums.items()}
    return distributed.mean_over_processes(run.ctx, means, run.device)  # every process took n steps


@torch.no_grad()
def evaluate(run, loader) -> dict:
    """Validation: L1 on normalised poses and L2 (px, on final results) of the method's prediction."""
    if loader is None or len(loader) == 0:
        return {"val_l1": math.nan, "val_l2": math.nan}
    run.train_mode(False)
    g = torch.Generator().manual_seed(run.settings.seed)  # same validation templates every epoch
    l1_sum = l2_sum = 0.0
    count = 0
    for batch in loader:
        batch = {k: v.to(run.device) for k, v in batch.items()}
        pred = run.predict_normalised(batch, generator=g)
        true = batch["poses"]
        l1_sum += F.l1_loss(pred, true, reduction="sum").item() / true[0].numel()
        pf, tf = (final_results(x, run.stats_t, run.parted) for x in (pred, true))
        l2_sum += torch.linalg.norm(pf - tf, dim=-2).mean(dim=(1, 2)).sum().item()
        count += len(true)
    return {"val_l1": l1_sum / count, "val_l2": l2_sum / count}
