"""Setting up and running the training of one model (pose_vae, sdt_bp, sdt_vae, s2g): networks, optimisers,
schedules, resumable checkpoints, history, TensorBoard.  The per-step maths is in sdt/train/engine.py."""

import contextlib
import logging
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from models.discriminator import PoseDiscriminatorConfig, PoseSequenceDiscriminator
from models.generator import GeneratorConfig, SequenceGeneratorCNN
from models.pose_vae import PoseSeqVAE, PoseVAEConfig
from sdt.audio import MelSpectrogram
from sdt.checkpoint import fingerprint, load_checkpoint, save_checkpoint, stats_payload
from sdt.io import write_csv
from sdt.poses import load_stats
from sdt.train import engine
from sdt.train.data import ClipBatches, EpochBatchSampler, batch_loader
from sdt.train.perf import FastMode, fast_mode, tune_allocator

log = logging.getLogger(__name__)
METHODS = ("pose_vae", "sdt_bp", "sdt_vae", "s2g")


def pick_device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_networks(method, template_dim=32):
    """The networks of a method with their configs (what a checkpoint needs to rebuild them)."""
    if method == "pose_vae":
        cfg = PoseVAEConfig(code_dim=template_dim)
        return {"vae": PoseSeqVAE(cfg)}, {"vae": asdict(cfg)}
    if method == "s2g":  # Speech2Gesture baseline: batch norm, global poses, motion discriminator
        g_cfg, d_cfg = GeneratorConfig(template_dim=0, norm="BN"), PoseDiscriminatorConfig()
        nets = {"netG": SequenceGeneratorCNN(g_cfg), "netD": PoseSequenceDiscriminator(d_cfg)}
        return nets, {"netG": asdict(g_cfg), "netD": asdict(d_cfg)}
    g_cfg = GeneratorConfig(template_dim=template_dim, norm="IN")
    return {"netG": SequenceGeneratorCNN(g_cfg)}, {"netG": asdict(g_cfg)}


class Run:
    """The state of one training run: networks, optimisers, schedules, templates, buffers, counters."""

    def __init__(self, method, settings, stats, n_train, device, fixed_templates=None, writer=None):
        self.method, self.settings, self.device, self.writer = method, settings, device, writer
        self.parted = method != "s2g"  # the baseline trains on global poses (SDT_SPEC 4)
        self.stats = stats
        self.stats_t = {k: (torch.as_tensor(v, device=device) if isinstance(v, np.ndarray) else v)
                        for k, v in stats.items()}
        self.epoch, self.step, self.history = 0, 0, []
        self.nets, self.configs = build_networks(method, settings["template_dim"])
        self.nets = {k: v.to(device) for k, v in self.nets.items()}
        self.mel = MelSpectrogram().to(device)
        lr = settings["lr"]
        fused = device.type in ("cpu", "cuda")  # one kernel for all tensors: ~5x faster than the per-tensor loop
        self.opts = {k: torch.optim.Adam(v.parameters(), lr=lr, fused=fused) for k, v in self.nets.items()}
        self.buffers, self.templates = {}, None
        dim = settings["template_dim"]
        if method == "pose_vae":
            self.buffers = {k: torch.zeros(n_train, dim, device=device) for k in ("clip_code_mu", "clip_code_logvar")}
        elif method == "sdt_bp":  # zero-initialised template table, its own Adam (SDT_SPEC 5)
            self.templates = torch.nn.Parameter(torch.zeros(n_train, dim, device=device))
            self.opts["templates"] = torch.optim.Adam([self.templates], lr=lr, fused=fused)
        elif method == "sdt_vae":
            if fixed_templates is None or len(fixed_templates) != n_train:
                raise ValueError("SDT-VAE needs the pose VAE's templates, one per training clip")
            self.templates = torch.as_tensor(fixed_templates, dtype=torch.float32, device=device)
        epochs = settings["epochs"]
        milestones = sorted({m if m > 0 else epochs + m for m in settings["lr_milestones"]} - {0})
        milestones = [m for m in milestones if 0 < m]
        self.scheds = {k: torch.optim.lr_scheduler.MultiStepLR(o, milestones, settings["lr_gamma"])
                       for k, o in self.opts.items()}
        self.fast, self.compiled = FastMode(), {}
        self.apply_fast_mode(fast_mode(device, settings.get("fast", False)))

    def apply_fast_mode(self, mode):
        """Mixed precision, channels-last audio encoders and compiled networks (sdt.train.perf.FastMode).  Checkpoints
        hold the plain modules' weights either way: a compiled network shares its parameters."""
        self.fast = mode
        if mode.channels_last:
            for net in self.nets.values():
                if hasattr(net, "audio_encoder"):
                    net.audio_encoder.to(memory_format=torch.channels_last)
        self.compiled = {k: torch.compile(v) for k, v in self.nets.items()} if mode.compile else {}

    # -- helpers used by sdt/train/engine.py ---------------------------------------------------------------------
    def check(self, loss, name):
        engine._check(loss, self.epoch, self.step, name)

    def net(self, name):
        """The network to call in a training step (compiled in fast mode on a GPU)."""
        return self.compiled.get(name, self.nets[name])

    def autocast(self):
        if self.fast.autocast is not None:
            return torch.autocast(self.device.type, dtype=self.fast.autocast)
        return contextlib.nullcontext()

    def train_mode(self, flag):
        for net in self.nets.values():
            net.train(flag)

    def log_scalars(self, group, values, step):
        if self.writer is not None:
            for k, v in values.items():
                if v is not None and math.isfinite(v):
                    self.writer.add_scalar(f"{group}/{k}", v, step)

    @torch.no_grad()
    def predict_normalised(self, batch, generator=None):
        """Normalised poses [B, 64, 2, 121]: a VAE reconstruction, or the generator with random templates."""
        if self.method == "pose_vae":
            return self.nets["vae"](batch["poses"])[0]
        mel = self.mel(batch["audio"])
        templates = None
        if self.templates is not None:
            rows = torch.randint(len(self.templates), (len(mel),), generator=generator).to(self.device)
            templates = self.templates[rows]
        return self.nets["netG"](mel, templates).float()

    # -- checkpoints ------------------------------------------------------------------------------------
    def payload(self, with_optimisers=True):
        p = {
            "method": self.method, "epoch": self.epoch, "step": self.step, "settings": self.settings,
            "model_configs": self.configs, "history": self.history, "parted": self.parted,
            "state_dicts": {k: v.state_dict() for k, v in self.nets.items()},
            "buffers": {k: v.detach().cpu() for k, v in self.buffers.items()},
            "templates": None if self.templates is None else self.templates.detach().cpu(),
            "stats": stats_payload(self.stats),
        }
        if with_optimisers:
            p["optimizers"] = {k: o.state_dict() for k, o in self.opts.items()}
            p["schedulers"] = {k: s.state_dict() for k, s in self.scheds.items()}
            p["rng"] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
        return p

    def restore(self, ckpt):
        for k, net in self.nets.items():
            net.load_state_dict(ckpt["state_dicts"][k])
        for k, o in self.opts.items():
            o.load_state_dict(ckpt["optimizers"][k])
        for k, s in self.scheds.items():
            s.load_state_dict(ckpt["schedulers"][k])
        for k, b in ckpt["buffers"].items():
            self.buffers[k].copy_(b)
        if self.method == "sdt_bp":
            self.templates.data.copy_(ckpt["templates"])
        self.epoch, self.step, self.history = ckpt["epoch"], ckpt["step"], list(ckpt["history"])
        rng = ckpt["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _fixed_templates(pose_vae_path, n_train):
    """SDT-VAE's templates: the pose VAE's stored posterior means of the training clips (SDT_SPEC 5)."""
    mu = load_checkpoint(pose_vae_path)["buffers"]["clip_code_mu"].numpy()
    if len(mu) != n_train:
        raise ValueError(f"{pose_vae_path} holds {len(mu)} templates but the training split has {n_train} clips")
    return mu


def train(method, data, model_out, history_out, run_dir, settings, pose_vae=None, threads=None, progress=True):
    """Train ``method`` on ``data`` (paths: train_poses, train_audio, dev_poses, dev_audio, stats).

    Resumes from ``run_dir/checkpoints/last.pt`` when it belongs to the same settings and data.
    Writes the final model (no optimiser state) to ``model_out`` and the per-epoch history to ``history_out``.
    """
    from torch.utils.tensorboard import SummaryWriter

    tune_allocator()
    if threads:
        torch.set_num_threads(threads)
    device = pick_device()
    seed_everything(settings["seed"])
    stats = load_stats(data["stats"])
    parted = method != "s2g"
    train_set = ClipBatches(data["train_poses"], data["train_audio"], stats, parted)
    dev_set = ClipBatches(data["dev_poses"], data["dev_audio"], stats, parted)
    if len(train_set) == 0:
        raise ValueError(f"{data['train_poses']}: no training clips")
    bs = settings["batch_size"]
    sampler = EpochBatchSampler(len(train_set), bs, settings["seed"], max_batches=settings["max_steps_per_epoch"])
    loader = batch_loader(train_set, sampler, settings["num_workers"])
    dev_sampler = EpochBatchSampler(len(dev_set), bs, 0, shuffle=False)
    dev_loader = batch_loader(dev_set, dev_sampler) if len(dev_set) else None
    fixed = _fixed_templates(pose_vae, len(train_set)) if method == "sdt_vae" else None
    fp = fingerprint({"method": method, **settings}, data["train_poses"], data["dev_poses"],
                     *(np.asarray(stats[k]) for k in sorted(stats) if k.startswith(("mean", "std"))),
                     *([] if fixed is None else [fixed]))

    run_dir = Path(run_dir)
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    writer = SummaryWriter(str(run_dir / "tensorboard"))
    run = Run(method, settings, stats, len(train_set), device, fixed, writer)
    log.info("%s on %s: %d train / %d dev clips, %d steps/epoch, device %s", method, data["train_poses"],
             len(train_set), len(dev_set), len(sampler), device)
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, map_location=device)
        if ckpt.get("fingerprint") == fp:
            run.restore(ckpt)
            log.info("resumed from %s after epoch %d", ckpt_path, run.epoch)
        else:
            log.warning("ignoring %s: it belongs to other settings or data", ckpt_path)

    for epoch in range(run.epoch + 1, settings["epochs"] + 1):
        start = time.perf_counter()
        sampler.set_epoch(epoch)
        train_logs = engine.train_one_epoch(run, loader, epoch, progress)
        val_logs = engine.evaluate(run, dev_loader)
        lr = run.opts[next(iter(run.opts))].param_groups[0]["lr"]
        for sched in run.scheds.values():
            sched.step()
        row = {"epoch": epoch, "step": run.step, "lr": lr, **train_logs, **val_logs,
               "seconds": round(time.perf_counter() - start, 2)}
        run.history.append(row)
        run.epoch = epoch
        run.log_scalars("epoch", {k: v for k, v in row.items() if k != "epoch"}, epoch)
        log.info("epoch %d: %s", epoch, ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch"))
        if epoch % settings["checkpoint_every"] == 0 or epoch == settings["epochs"]:
            save_checkpoint(ckpt_path, {**run.payload(), "fingerprint": fp})
    writer.close()
    save_checkpoint(model_out, {**run.payload(with_optimisers=False), "fingerprint": fp})
    write_csv(history_out, pd.DataFrame(run.history))
    return run


def train_rule(smk):
    """What every train_* step script does: unpack Snakemake's input/output/params/log/threads and train."""
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = dict(smk.params.settings)
    method = settings.pop("method")
    data = {k: smk.input[k] for k in ("train_poses", "train_audio", "dev_poses", "dev_audio", "stats")}
    train(method, data, model_out=smk.output.model, history_out=smk.output.history,
          run_dir=Path(smk.output.history).parent, settings=settings,
          pose_vae=smk.input.get("pose_vae"), threads=smk.threads)
