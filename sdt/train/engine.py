"""The epoch loop and the validation pass (docs/networks.md §3), the same for every method: a method's networks and
optimisers live in a ``Run`` (sdt/train/run.py), its training step and prediction in its family's module
(sdt/families/<family>.py); these functions only iterate.
"""

import math

import torch
import torch.nn.functional as F
from tqdm import tqdm

from sdt.poses import final_results
from sdt.train import distributed


class NonFiniteLoss(FloatingPointError):
    pass


def check_finite(loss, epoch, step, name):
    """Stop training on a non-finite loss, naming the loss, the epoch and the step."""
    if not torch.isfinite(loss):
        raise NonFiniteLoss(f"non-finite {name} loss ({loss.item()}) at epoch {epoch}, step {step}: "
                            "training stopped (lower the learning rate or check the data)")


def train_one_epoch(run, loader, epoch, progress=True) -> dict[str, float]:
    run.train_mode(True)
    step_fn = run.ops.step  # sdt/families/<family>.py
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
