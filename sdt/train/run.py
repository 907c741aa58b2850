"""The state of one training run (networks, optimisers, schedules, templates, buffers, counters) and its
checkpoint payload.  The per-step maths is in sdt/train/engine.py, the epoch loop in sdt/train/train.py."""

import contextlib
import math
import random

import numpy as np
import torch

from sdt.checkpoint import stats_payload
from sdt.device import fast_layout
from sdt.families import family, features
from sdt.methods import Method
from sdt.train import distributed
from sdt.train.config import TrainSettings
from sdt.train.engine import check_finite
from sdt.train.perf import FastMode, fast_mode


def build_networks(method, settings):
    """The networks of a method (a :class:`sdt.methods.Method` or a name) with their configs (what a checkpoint
    needs to rebuild them), built by its family's module (sdt/families/)."""
    definition = Method.of(method)
    return family(definition.family).load().build(definition, TrainSettings.of(settings))


class Run:
    """The state of one training run: networks, optimisers, schedules, templates, buffers, counters."""

    def __init__(self, method, settings, stats, n_train, device, fixed_templates=None, writer=None):
        """``method``: a :class:`sdt.methods.Method`, its definition dict or a paper method's name."""
        settings = TrainSettings.of(settings)
        self.definition = Method.of(method)
        self.method, self.family = self.definition.name, family(self.definition.family)
        self.ops = self.family.load()  # the family's build, init_state, prepare, step and predict
        self.settings, self.device, self.writer = settings, device, writer
        self.parted = self.definition.parted  # parted or global poses (docs/dataset.md §4)
        self.stats = stats
        self.stats_t = {k: (torch.as_tensor(v, device=device) if isinstance(v, np.ndarray) else v)
                        for k, v in stats.items()}
        self.epoch, self.step, self.history = 0, 0, []
        self.ctx, self.wrapped, self.init_info = distributed.SINGLE, {}, None  # see distribute() and init_from
        self.nets, self.configs = self.ops.build(self.definition, settings)
        self.nets = {k: v.to(device) for k, v in self.nets.items()}  # the release's formulation unless train.fast
        self.features = features(self.definition.family).to(device)  # the family's audio input
        self.fused = device.type in ("cpu", "cuda")  # one kernel for all tensors: ~5x faster than the per-tensor loop
        self.opts = {k: torch.optim.Adam(v.parameters(), lr=settings.lr, fused=self.fused)
                     for k, v in self.nets.items()}
        self.buffers, self.templates = {}, None
        self.ops.init_state(self, n_train, fixed_templates)  # templates (and their Adam), buffers, features
        milestones = settings.milestones()
        self.scheds = {k: torch.optim.lr_scheduler.MultiStepLR(o, milestones, settings.lr_gamma)
                       for k, o in self.opts.items()}
        self.fast, self.compiled = FastMode(), {}
        self.apply_fast_mode(fast_mode(device, settings.fast))

    def prepare(self, train_set):
        """What the networks fit on the training clips before the first step (the baselines' input statistics)."""
        self.ops.prepare(self, train_set)

    def apply_fast_mode(self, mode):
        """Mixed precision, channels-last audio encoders and compiled networks (sdt.train.perf.FastMode).  Checkpoints
        hold the plain modules' weights either way: a compiled network shares its parameters."""
        self.fast = mode
        if mode.fused:
            for net in self.nets.values():
                fast_layout(net, self.device)
        if mode.channels_last:
            for net in self.nets.values():
                if hasattr(net, "audio_encoder"):
                    net.audio_encoder.to(memory_format=torch.channels_last)
        callables = {k: self.wrapped.get(k, v) for k, v in self.nets.items()}
        self.compiled = {k: torch.compile(v) for k, v in callables.items()} if mode.compile else self.wrapped

    def distribute(self, ctx):
        """Train as process ``ctx.rank`` of ``ctx.world`` (sdt/train/distributed.py): batch norms synchronised
        with ``sync_bn``, the networks in DistributedDataParallel, the template table's gradient averaged over
        the processes.  Every process then loads the same weights (fine-tuning source, checkpoint), if any."""
        self.ctx = ctx
        if not ctx.active:
            return
        if self.settings.sync_bn:
            self.nets = {k: distributed.convert_sync_bn(v, self.device) for k, v in self.nets.items()}
        self.wrapped = {k: distributed.wrap(v, ctx, self.device) for k, v in self.nets.items()}
        if isinstance(self.templates, torch.nn.Parameter):
            distributed.average_gradients(ctx, self.templates)
        self.apply_fast_mode(self.fast)

    # -- helpers used by sdt/train/engine.py ---------------------------------------------------------------------
    def check(self, loss, name):
        check_finite(loss, self.epoch, self.step, name)

    def net(self, name):
        """The network to call in a training step (in DistributedDataParallel when distributed, compiled in fast
        mode on a GPU)."""
        return self.compiled.get(name, self.nets[name])

    def global_batch(self, local):
        """A per-clip tensor of this process's batch [b, ...] -> of the global batch [N b, ...], for batch-level
        loss terms (sdt.train.distributed.global_batch); itself in a single process."""
        return distributed.global_batch(self.ctx, local)

    def batch_noise(self, index, dim):
        """Standard-normal noise [b, dim] for this process's clips ``index`` (sorted, as batches are): the rows a
        single process would draw for them at the global batch.  Every process keeps the same generator state,
        draws the whole global batch's noise and takes its clips' rows."""
        if not self.ctx.active:
            return torch.randn(len(index), dim, device=self.device)
        everyone = self.global_batch(index).sort().values  # [N b]: the single process's (sorted) batch
        return torch.randn(len(everyone), dim, device=self.device)[torch.searchsorted(everyone, index)]

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
        """Normalised poses [B, 64, 2, 121] of the method for a batch (its family's ``predict``: templates and
        MoGlow's latents drawn with ``generator``)."""
        return self.ops.predict(self, batch, generator)

    # -- checkpoints ------------------------------------------------------------------------------------
    def payload(self, with_optimisers=True):
        p = {
            "method": self.method, "definition": self.definition.as_dict(), "epoch": self.epoch, "step": self.step,
            "settings": self.settings.as_dict(),
            "model_configs": self.configs, "history": self.history, "parted": self.parted,
            "state_dicts": {k: v.state_dict() for k, v in self.nets.items()},
            "buffers": {k: v.detach().cpu() for k, v in self.buffers.items()},
            "templates": None if self.templates is None else self.templates.detach().cpu(),
            "stats": stats_payload(self.stats), "init_from": self.init_info,
        }
        if with_optimisers:  # a resumable checkpoint: every process calls this (the RNG states are gathered)
            p["optimizers"] = {k: o.state_dict() for k, o in self.opts.items()}
            p["schedulers"] = {k: s.state_dict() for k, s in self.scheds.items()}
            p["rng"] = distributed.gather(self.ctx, _rng_state())  # [one per process]
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
        if isinstance(self.templates, torch.nn.Parameter):  # a learned table (SDT-BP)
            self.templates.data.copy_(ckpt["templates"])
        self.epoch, self.step, self.history = ckpt["epoch"], ckpt["step"], list(ckpt["history"])
        self.init_info = ckpt.get("init_from")
        # this process's RNG state (a run resumed on another number of processes reuses them in turn)
        states = ckpt["rng"] if isinstance(ckpt["rng"], list) else [ckpt["rng"]]
        rng = states[self.ctx.rank % len(states)]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])


def _rng_state():
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
