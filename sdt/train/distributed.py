"""Training on several processes with torch.distributed (the release's SYS.DISTRIBUTED, docs/networks.md §5),
made exact.

One process per GPU (NCCL), or per CPU share (gloo), started by ``torchrun`` (sdt/train/launch.py), each on
batch_size / N clips of the global batch (sdt.train.data.EpochBatchSampler).  The networks are wrapped in
DistributedDataParallel, which averages their gradients: the mean over the global batch of a per-clip loss.

What DDP does not cover, and the release computes per process, is computed here over the global batch, so that N
processes at B / N train exactly as one process at B (to float rounding; tests/train/test_distributed.py):
  * batch-level loss terms (SDT-BP's template KL, the mean and variance over the batch's templates):
    :func:`global_batch` gathers every process's part of the batch, with the gradient flowing to the local part;
  * parameters outside the wrapped networks (SDT-BP's template table): :func:`average_gradients` averages their
    gradient over the processes as DDP does for the networks;
  * batch norm, with ``train.sync_bn``: statistics over the global batch (torch's SyncBatchNorm on CUDA, which
    refuses CPU tensors; :class:`GlobalBatchNorm` on CPU).  The release converts no BatchNorm.
Rank 0 alone validates and writes (checkpoints, history, TensorBoard, videos, the model); the others wait.
"""

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

TIMEOUT = datetime.timedelta(hours=2)  # the other processes wait this long for rank 0's validation and videos


@dataclass(frozen=True)
class Dist:
    """This process's place in a run: rank of world processes, and its rank on its node (its GPU)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self):
        return self.rank == 0

    @property
    def active(self):
        return self.world > 1


SINGLE = Dist()


def setup():
    """Join the process group that torchrun's environment describes (RANK, WORLD_SIZE, LOCAL_RANK): NCCL with a GPU
    per process, gloo on CPUs.  A process started without torchrun is a run of its own (:data:`SINGLE`)."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world <= 1:
        return SINGLE
    ctx = Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", 0)))
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(ctx.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT)
    return ctx


def teardown(ctx):
    if ctx.active and dist.is_initialized():
        dist.destroy_process_group()


def device_of(ctx):
    """This process's device: its GPU (``LOCAL_RANK``) when CUDA is there, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", ctx.local_rank)
    return torch.device("cpu")


def barrier(ctx):
    if ctx.active:
        dist.barrier()


def broadcast(ctx, obj):
    """Rank 0's ``obj`` on every process."""
    if not ctx.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(ctx, obj):
    """[every process's ``obj``] in rank order, on every process."""
    if not ctx.active:
        return [obj]
    out = [None] * ctx.world
    dist.all_gather_object(out, obj)
    return out


def mean_over_processes(ctx, values, device):
    """A dict of floats averaged over the processes (each process's epoch means of its losses)."""
    if not ctx.active or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(keys, (t / ctx.world).tolist(), strict=True))


class _GlobalBatch(torch.autograd.Function):
    """Every process's ``local`` [b, ...] concatenated in rank order [N b, ...].  Backward: the gradient of this
    process's part, times N.  Every process computes the same batch-level term from the result and the gradient
    of a parameter outside DDP is averaged over the N processes afterwards (:func:`average_gradients`), so
    the local rows end up with exactly the term's gradient (N x / N)."""

    @staticmethod
    def forward(ctx, local, rank, world):
        parts = [torch.empty_like(local) for _ in range(world)]
        dist.all_gather(parts, local.contiguous())
        ctx.rank, ctx.world, ctx.size = rank, world, len(local)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.rank * ctx.size:(ctx.rank + 1) * ctx.size] * ctx.world, None, None


def global_batch(ctx, local):
    """The global batch of a per-clip tensor [b, ...] -> [N b, ...], for batch-level loss terms (see the module's
    docstring: use it only where the gradient reaches parameters whose gradient :func:`average_gradients`
    averages)."""
    if not ctx.active:
        return local
    return _GlobalBatch.apply(local, ctx.rank, ctx.world)


def average_gradients(ctx, param):
    """Average ``param``'s gradient over the processes as soon as backward has accumulated it (for a parameter that
    DDP does not wrap: SDT-BP's template table, of which each process sees its own batch's rows)."""
    if not ctx.active:
        return

    def hook(p):
        dist.all_reduce(p.grad)
        p.grad.div_(ctx.world)

    param.register_post_accumulate_grad_hook(hook)


class _SumOverProcesses(torch.autograd.Function):
    """The sum of a tensor over the processes; its gradient likewise (each process's input reaches every sum)."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are those of the global batch (all processes), for CPU runs: torch's
    SyncBatchNorm takes CUDA tensors only.  Two all-reduces with gradients (sum, then the centred sum of squares:
    no cancellation); the running variance is the unbiased one over the global count, as a single process's.
    Parameters and buffers are those of the batch norm it replaces (same state-dict keys)."""

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {x.dim()}D")

    def forward(self, x):
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims, shape = [0, *range(2, x.dim())], [1, -1] + [1] * (x.dim() - 2)
        count = torch.tensor(float(x.numel() // x.shape[1]), dtype=x.dtype)
        dist.all_reduce(count)
        mean = _SumOverProcesses.apply(x.sum(dims)) / count
        centred = x - mean.view(shape)
        var = _SumOverProcesses.apply((centred * centred).sum(dims)) / count
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach(), factor)
                self.running_var.lerp_(var.detach() * count / (count - 1), factor)
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


def convert_sync_bn(module, device):
    """``module`` with every batch norm synchronised over the processes (torch's SyncBatchNorm on CUDA,
    :class:`GlobalBatchNorm` elsewhere), sharing the original parameters (so optimisers keep working)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        if module.affine:
            new.weight, new.bias = module.weight, module.bias
        if module.track_running_stats:
            new.running_mean, new.running_var = module.running_mean, module.running_var
            new.num_batches_tracked = module.num_batches_tracked
        return new.train(module.training)
    for name, child in module.named_children():
        module.add_module(name, convert_sync_bn(child, device))
    return module


def wrap(net, ctx, device):
    """``net`` in DistributedDataParallel (parameters broadcast from rank 0; gradients averaged)."""
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(net, device_ids=ids)
