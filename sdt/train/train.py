"""Rules train_pose_vae, train_sdt_bp, train_sdt_vae, train_s2g: the training of one model, epoch by epoch, with
resumable checkpoints, history and TensorBoard.  A run's state is sdt/train/run.py's ``Run``, the per-step maths
sdt/train/engine.py."""

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sdt.checkpoint import fingerprint, load_checkpoint, save_checkpoint
from sdt.device import pick_device
from sdt.io import write_csv
from sdt.poses import load_stats
from sdt.train import engine
from sdt.train.config import TrainSettings
from sdt.train.data import ClipBatches, EpochBatchSampler, batch_loader
from sdt.train.perf import tune_allocator
from sdt.train.run import Run, seed_everything

log = logging.getLogger(__name__)


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

    settings = TrainSettings.of(settings)
    tune_allocator()
    device = pick_device(threads=threads)
    seed_everything(settings.seed)
    stats = load_stats(data["stats"])
    parted = method != "s2g"
    train_set = ClipBatches(data["train_poses"], data["train_audio"], stats, parted)
    dev_set = ClipBatches(data["dev_poses"], data["dev_audio"], stats, parted)
    if len(train_set) == 0:
        raise ValueError(f"{data['train_poses']}: no training clips")
    bs = settings.batch_size
    sampler = EpochBatchSampler(len(train_set), bs, settings.seed, max_batches=settings.max_steps_per_epoch)
    loader = batch_loader(train_set, sampler, settings.num_workers)
    dev_sampler = EpochBatchSampler(len(dev_set), bs, 0, shuffle=False)
    dev_loader = batch_loader(dev_set, dev_sampler) if len(dev_set) else None
    fixed = _fixed_templates(pose_vae, len(train_set)) if method == "sdt_vae" else None
    fp = fingerprint({"method": method, **settings.as_dict()}, data["train_poses"], data["dev_poses"],
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

    for epoch in range(run.epoch + 1, settings.epochs + 1):
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
        if epoch % settings.checkpoint_every == 0 or epoch == settings.epochs:
            save_checkpoint(ckpt_path, {**run.payload(), "fingerprint": fp})
    writer.close()
    save_checkpoint(model_out, {**run.payload(with_optimisers=False), "fingerprint": fp})
    write_csv(history_out, pd.DataFrame(run.history))
    return run
