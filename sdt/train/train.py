"""Rules train_pose_vae, train_generator, train_audio2body, train_moglow: the training of one model of one method,
epoch by epoch, with resumable checkpoints, validation (sdt/train/validate.py), videos (sdt/train/videos.py),
history and TensorBoard, on one process or several (torchrun: sdt/train/launch.py, sdt/train/distributed.py),
optionally fine-tuning a trained model (sdt/train/init_from.py).  A run's state is sdt/train/run.py's ``Run``, the
epoch loop sdt/train/engine.py, the method's own networks and step its family's module (sdt/train/steps/).

Resuming (issue 9): ``run_dir/checkpoints/last.pt`` is a resume point only for an *interrupted* run with the same
fingerprint: the code, every input file's content and every setting that decides the result (not the speed-only
ones, sdt.train.config.SPEED_ONLY, nor the number of processes).  A run that finishes deletes it, so a new job
(``--forcerun``, a changed input) always trains from the start.
"""

import logging
import shutil
import time
from pathlib import Path

import pandas as pd

from sdt.checkpoint import fingerprint, load_checkpoint, save_checkpoint
from sdt.device import pick_device
from sdt.io import write_csv
from sdt.methods import Method
from sdt.poses import load_stats
from sdt.train import distributed, engine
from sdt.train.config import TrainSettings
from sdt.train.data import ClipBatches, EpochBatchSampler, batch_loader
from sdt.train.init_from import init_from as load_init
from sdt.train.perf import tune_allocator
from sdt.train.run import Run, seed_everything
from sdt.train.validate import Validation
from sdt.train.videos import EpochVideos

log = logging.getLogger(__name__)


def _fixed_templates(pose_vae_path, n_train):
    """SDT-VAE's templates: the pose VAE's stored posterior means of the training clips (docs/networks.md §3)."""
    mu = load_checkpoint(pose_vae_path)["buffers"]["clip_code_mu"].numpy()
    if len(mu) != n_train:
        raise ValueError(f"{pose_vae_path} holds {len(mu)} templates but the training split has {n_train} clips")
    return mu


def default_code():
    """The code digest of the training step (what the rule passes as its ``code`` param), for direct calls."""
    from sdt.provenance import code_digest

    root = Path(__file__).resolve().parents[2]
    script = root / "workflow_scripts" / "train.py"
    return code_digest(script if script.exists() else Path(__file__), root)


def run_fingerprint(method, settings, files, code):
    """Everything that decides the result of a run (see the module's docstring)."""
    return fingerprint({"method": method, "settings": settings.result_dict(), "code": code}, files)


def train(method, data, model_out, history_out, run_dir, settings, pose_vae=None, ftd_vae=None, init_from=None,
          code=None, threads=None, progress=True):
    """Train ``method`` (a :class:`sdt.methods.Method`, its definition dict or a paper method's name) on ``data``
    (paths: train_poses, train_audio, dev_poses, dev_audio, stats).

    ``pose_vae``: SDT-VAE's templates; ``ftd_vae``: the pose VAE of validation's FTD; ``init_from``: a model to
    start from; ``code``: the step's code digest (default: this checkout's).  In a process started by torchrun
    this is one process of a distributed run.  Writes the final model (no optimiser state) to ``model_out`` and
    the per-epoch history to ``history_out``; returns the ``Run``.
    """
    ctx = distributed.setup()
    try:
        inputs = {"pose_vae": pose_vae, "ftd_vae": ftd_vae, "init_from": init_from}
        return _train(ctx, Method.of(method), data, Path(model_out), history_out, Path(run_dir),
                      TrainSettings.of(settings), inputs, code, threads, progress)
    finally:
        distributed.teardown(ctx)


def _loaders(ctx, settings, train_set):
    sampler = EpochBatchSampler(len(train_set), settings.batch_size, settings.seed, drop_last=settings.drop_last,
                                max_batches=settings.max_steps_per_epoch, rank=ctx.rank, world=ctx.world)
    return sampler, batch_loader(train_set, sampler, settings.num_workers)


def _resume(run, ckpt_path, fp):
    """Restore an interrupted run with this fingerprint; True when resumed."""
    if not ckpt_path.exists():
        return False
    ckpt = load_checkpoint(ckpt_path, map_location=run.device)
    if ckpt.get("fingerprint") != fp:
        log.warning("ignoring %s: it belongs to other code, data or settings", ckpt_path)
        return False
    run.restore(ckpt)
    log.info("resumed from %s after epoch %d (step %d)", ckpt_path, run.epoch, run.step)
    return True


def _train(ctx, method, data, model_out, history_out, run_dir, settings, inputs, code, threads, progress):
    tune_allocator()
    device = pick_device(distributed.device_of(ctx) if ctx.active else None, threads)
    seed_everything(settings.seed)
    stats = load_stats(data["stats"])
    train_set = ClipBatches(data["train_poses"], data["train_audio"], stats, method.parted)
    dev_set = ClipBatches(data["dev_poses"], data["dev_audio"], stats, method.parted)
    if len(train_set) == 0:
        raise ValueError(f"{data['train_poses']}: no training clips")
    sampler, loader = _loaders(ctx, settings, train_set)
    fixed = _fixed_templates(inputs["pose_vae"], len(train_set)) if method.template == "vae" else None
    definition = {"name": method.name, **method.definition()}
    fp = run_fingerprint(definition, settings, {**data, **inputs}, code or default_code()) if ctx.main else None
    fp = distributed.broadcast(ctx, fp)  # hashing every input file once is enough
    run = Run(method, settings, stats, len(train_set), device, fixed)
    run.prepare(train_set)  # the baselines' input statistics, the same on every process (restored when resuming)
    run.distribute(ctx)  # every process keeps the same RNG state: noise is drawn for the global batch
    if inputs["init_from"]:
        load_init(run, inputs["init_from"])
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    resumed = _resume(run, ckpt_path, fp)
    log.info("%s (%s) on %s: %d train / %d dev clips, %d steps/epoch of %d clips x %d processes, device %s",
             method.name, method.definition(),
             data["train_poses"], len(train_set), len(dev_set), len(sampler), sampler.batch_size, ctx.world, device)
    epochs = Epochs(run, ctx, run_dir, resumed, progress)
    if ctx.main:
        videos = EpochVideos(run, {"train": train_set, "dev": dev_set}, run_dir / "videos")
        epochs.watch(Validation(run, dev_set, data, inputs["ftd_vae"]), videos)
    for epoch in range(run.epoch + 1, settings.epochs + 1):
        sampler.set_epoch(epoch)
        epochs.run_epoch(epoch, loader, ckpt_path, fp)
    if ctx.main:
        save_checkpoint(model_out, {**run.payload(with_optimisers=False), "fingerprint": fp})
        write_csv(history_out, pd.DataFrame(run.history))
        ckpt_path.unlink(missing_ok=True)  # a finished run is never a resume point
    epochs.close()
    distributed.barrier(ctx)
    return run


class Epochs:
    """The epoch loop's bookkeeping: validation, videos, the history row, the log line (time, ETA), TensorBoard
    and checkpoints; rank 0 alone validates and writes."""

    def __init__(self, run, ctx, run_dir, resumed, progress):
        from torch.utils.tensorboard import SummaryWriter

        self.run, self.ctx, self.progress, self.validation, self.videos = run, ctx, progress, None, None
        self.seconds = []
        if ctx.main:
            if not resumed:  # a new run: no curves or videos of an earlier one
                for old in ("tensorboard", "videos"):
                    shutil.rmtree(run_dir / old, ignore_errors=True)
            # events past the checkpoint (written before a kill) are dropped on resume
            run.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=run.step + 1 if resumed else None)

    def watch(self, validation, videos):
        self.validation, self.videos = validation, videos

    def run_epoch(self, epoch, loader, ckpt_path, fp):
        run, start = self.run, time.perf_counter()
        logs = engine.train_one_epoch(run, loader, epoch, self.progress and self.ctx.main)
        row = {"epoch": epoch, "step": run.step, "lr": run.opts[next(iter(run.opts))].param_groups[0]["lr"], **logs,
               "train_seconds": round(time.perf_counter() - start, 3)}
        if self.ctx.main:
            t = time.perf_counter()
            row.update(self.validation(run))
            row["val_seconds"], t = round(time.perf_counter() - t, 3), time.perf_counter()
            if len(self.videos):
                self.videos(run, epoch)
            row["video_seconds"] = round(time.perf_counter() - t, 3)
        row = distributed.broadcast(self.ctx, row)  # every process keeps the same history
        for sched in run.scheds.values():
            sched.step()
        row["seconds"] = round(time.perf_counter() - start, 3)
        run.history.append(row)
        run.epoch = epoch
        self._report(row, run.settings.epochs - epoch)
        if epoch % run.settings.checkpoint_every == 0 or epoch == run.settings.epochs:
            payload = run.payload()  # on every process: it gathers their RNG states
            if self.ctx.main:
                save_checkpoint(ckpt_path, {**payload, "fingerprint": fp})
            distributed.barrier(self.ctx)

    def _report(self, row, remaining):
        self.seconds.append(row["seconds"])
        if not self.ctx.main:
            return
        eta = sum(self.seconds) / len(self.seconds) * remaining
        self.run.log_scalars("epoch", {k: v for k, v in row.items() if k != "epoch"}, self.run.step)
        log.info("epoch %d (%.1f s, ETA %.0f s): %s", row["epoch"], row["seconds"], eta,
                 ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "seconds")))

    def close(self):
        if self.run.writer is not None:
            self.run.writer.close()
