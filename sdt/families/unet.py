"""The U-Net generator family (docs/networks.md §1-3, §5): SDT-BP, SDT-VAE, Speech2Gesture and the template and
normalisation ablations of the paper's Tables 1 and 3, all one network (models/generator.py) with

  norm        BN | IN | IN* (sdt.methods.GENERATOR_NORM maps the paper's names to models.blocks norms)
  template    none | clip_bp: a zero-initialised table [N, D] with its own Adam (lr x template_lr_scale) and the
              batch KL (SDT-BP) |
              frame_bp: a table [N, D, 64], one template per frame, the KL over all (clip, frame) pairs of the batch
              (the release's FRAME_VARIANT) | vae: the pose VAE's per-clip means, fixed (SDT-VAE)
  gan_weight  > 0: the motion discriminator and the LSGAN losses, both weighted by it (Speech2Gesture)

The loss is the release's: L1 on normalised poses, + template_kl_weight x KL for learned tables, + gan_weight x the
generator's LSGAN loss; the discriminator then steps on the same prediction, detached.
"""

from dataclasses import asdict

import torch
import torch.nn.functional as F

from models.discriminator import (
    PoseDiscriminatorConfig,
    PoseSequenceDiscriminator,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from models.generator import GeneratorConfig, SequenceGeneratorCNN
from models.pose_vae import template_kl
from sdt.families.steps import backward
from sdt.methods import BP_TEMPLATES, GENERATOR_NORM


def build(definition, settings):
    dim = 0 if definition.template == "none" else settings.template_dim
    g_cfg = GeneratorConfig(**{"template_dim": dim, "norm": GENERATOR_NORM[definition.norm], **definition.net})
    nets, configs = {"netG": SequenceGeneratorCNN(g_cfg)}, {"netG": asdict(g_cfg)}
    if definition.gan_weight > 0:  # Speech2Gesture's motion discriminator
        d_cfg = PoseDiscriminatorConfig(n_points=g_cfg.n_points)
        nets["netD"], configs["netD"] = PoseSequenceDiscriminator(d_cfg), asdict(d_cfg)
    return nets, configs


def init_state(run, n_train, fixed_templates):
    """The template table: learned (zeros, its own Adam: docs/networks.md §3) or the pose VAE's fixed means."""
    kind, dim = run.definition.template, run.settings.template_dim
    if kind in BP_TEMPLATES:
        shape = (n_train, dim) if kind == "clip_bp" else (n_train, dim, run.nets["netG"].cfg.n_frames)
        run.templates = torch.nn.Parameter(torch.zeros(shape, device=run.device))
        lr = run.settings.lr * run.settings.template_lr_scale  # the release's CLIP_CODE.LR_SCALING (default 1)
        run.opts["templates"] = torch.optim.Adam([run.templates], lr=lr, fused=run.fused)
    elif kind == "vae":
        if fixed_templates is None or len(fixed_templates) != n_train:
            raise ValueError(f"{run.method} needs the pose VAE's templates, one per training clip")
        run.templates = torch.as_tensor(fixed_templates, dtype=torch.float32, device=run.device)


def prepare(run, train_set):
    pass


def batch_kl(templates):
    """The KL term of a batch of learned templates: clip-wise [B, D] as they are, frame-wise [B, D, T] with every
    (clip, frame) pair as a sample [B T, D] (docs/networks.md §5)."""
    if templates.dim() == 3:
        templates = templates.transpose(1, 2).reshape(-1, templates.shape[1])
    return template_kl(templates)


def step(run, batch):
    """Generator step (L1 [+ KL] [+ LSGAN]), then the discriminator's when the method has one."""
    weight = run.definition.gan_weight
    mel = run.features(batch["audio"])
    templates = None if run.templates is None else run.templates[batch["index"]]  # [B, D] or [B, D, T]
    with run.autocast():
        pred = run.net("netG")(mel, templates)
    pred = pred.float()
    l1 = F.l1_loss(pred, batch["poses"])
    out, loss, opts = {"l1": l1.item()}, l1, [run.opts["netG"]]
    if isinstance(run.templates, torch.nn.Parameter):  # over the global batch when distributed (the release: per
        kl = batch_kl(run.global_batch(templates))  # process)
        loss = loss + run.settings.template_kl_weight * kl
        opts.append(run.opts["templates"])
        out["template_kl"] = kl.item()
    if weight > 0:
        g_gan = lsgan_generator_loss(run.net("netD")(pred))
        loss = loss + weight * g_gan
        out["g_gan"] = g_gan.item()
    run.check(loss, f"{run.method} generator" if weight > 0 else run.method)
    backward(opts, loss)  # netD's gradients from this pass are cleared by its own zero_grad below
    out["loss"] = loss.item()
    if weight > 0:
        out["d_loss"] = discriminator_step(run, batch["poses"], pred.detach(), weight)
    return out


def discriminator_step(run, real, fake, weight):
    """LSGAN: real to 1, generated to 0, weighted by gan_weight as the release weights both GAN losses by
    LAMBDA_GAN (core/pipelines/voice2pose.py: ``D_pose_gan_loss = (real + fake) * LAMBDA_GAN``)."""
    netD = run.net("netD")
    d_loss = weight * lsgan_discriminator_loss(netD(real), netD(fake))
    run.check(d_loss, f"{run.method} discriminator")
    backward([run.opts["netD"]], d_loss)
    return d_loss.item()


def predict(run, batch, generator=None):
    """The generator on the batch's audio, with a random row of the template table per clip (the release's test
    default); the same rows every epoch for the same ``generator`` seed."""
    mel = run.features(batch["audio"])
    templates = None
    if run.templates is not None:
        rows = torch.randint(len(run.templates), (len(mel),), generator=generator).to(run.device)
        templates = run.templates[rows]
    return run.nets["netG"](mel, templates).float()


# -- inference (sdt.inference.GestureModel) ---------------------------------------------------------------------------
def infer(net, mel, template):
    """mel [B, 80, T] (+ templates [B, D] or [B, D, 64]) -> normalised poses [B, 64, 2, 121]."""
    return net(mel, template)


def infer_samples(net, mel, templates):
    """K template samples [K, B, ...] of one batch: the audio encoder (~95 % of a pass) runs once for all K."""
    encoded = net.audio_encoder(mel, net.cfg.n_frames)
    return [net(mel, t, features=encoded) for t in templates]
