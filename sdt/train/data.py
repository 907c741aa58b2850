"""Training data: batches straight from the packed, memory-mapped clip arrays of split_dataset/pack_released.

A batch is read with one fancy-index per array (sorted indices: sequential reads of the memmap) and transformed
as a whole (137 -> 121, neck-relative, parted or global, normalised), so loading costs a few ms per batch of 32
and never holds the split in memory.
"""


import numpy as np
import torch

from sdt.poses import normalise, stats_for, to_121, to_parted


class ClipBatches(torch.utils.data.Dataset):
    """Indexable by a *list* of clip indices (use with :func:`batch_loader`); returns one batch dict.

    audio [B, 68266] float32 (16 kHz), poses [B, 64, 2, 121] normalised, index [B] int64 (rows of the split).
    """

    def __init__(self, poses_npy, audio_npy, stats, parted=True):
        self.poses = np.load(poses_npy, mmap_mode="r")  # [N, 64, 3, 137]
        self.audio = np.load(audio_npy, mmap_mode="r")  # [N, 68266]
        if len(self.poses) != len(self.audio):
            raise ValueError(f"{poses_npy} and {audio_npy} hold different numbers of clips")
        self.parted = parted
        self.mean, self.std = (a.astype(np.float32) for a in stats_for(stats, parted))

    def __len__(self):
        return len(self.poses)

    def __getitem__(self, indices):
        idx = np.sort(np.asarray(indices, dtype=np.int64))
        pose = to_121(np.asarray(self.poses[idx], dtype=np.float32))  # [B, 64, 2, 121]
        if self.parted:
            pose = to_parted(pose)
        pose = normalise(pose, self.mean, self.std)
        return {
            "audio": torch.from_numpy(np.ascontiguousarray(self.audio[idx], dtype=np.float32)),
            "poses": torch.from_numpy(np.ascontiguousarray(pose, dtype=np.float32)),
            "index": torch.from_numpy(idx),
        }


class EpochBatchSampler(torch.utils.data.Sampler):
    """This process's batches of an epoch, in an order that depends only on (seed, epoch): a resumed run sees the
    same batches.

    The epoch's order is torch's ``DistributedSampler`` (randperm seeded with seed + epoch, ``set_epoch``); process
    ``rank`` of ``world`` takes every world-th clip of it and cuts its share into batches of batch_size / world.
    So the processes' step-k batches together are exactly clips [k B, (k + 1) B) of the order: the global batch of
    one process at batch_size B (what makes a distributed run equal a single-process one, sdt/train/distributed.py).
    ``drop_last`` drops the last partial batch (the release's ``drop_last=True``) unless it is the only one.
    With several processes an epoch leaves out the last n mod world clips of its order (every process must take
    the same number of steps; torch pads by repeating clips instead).
    """

    def __init__(self, n, batch_size, seed, shuffle=True, max_batches=0, drop_last=False, rank=0, world=1):
        if batch_size % world:
            raise ValueError(f"batch_size {batch_size} cannot be split evenly over {world} processes: make it a "
                             f"multiple of {world} (each process takes batch_size / {world} clips per step)")
        self.n, self.batch_size, self.seed, self.shuffle = n, batch_size // world, seed, shuffle
        self.max_batches, self.drop_last, self.epoch = max_batches, drop_last, 0
        self.rank, self.world = rank, world

    def set_epoch(self, epoch):
        self.epoch = epoch

    def _batches(self):
        order = torch.utils.data.DistributedSampler(range(self.n), num_replicas=self.world, rank=self.rank,
                                                    shuffle=self.shuffle, seed=self.seed, drop_last=self.world > 1)
        order.set_epoch(self.epoch)
        share = np.fromiter(order, dtype=np.int64)
        batches = [share[i : i + self.batch_size] for i in range(0, len(share), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size and len(batches) > 1:
            batches = batches[:-1]
        return batches[: self.max_batches] if self.max_batches else batches

    def __iter__(self):
        return iter([b.tolist() for b in self._batches()])

    def __len__(self):
        return len(self._batches())


def batch_loader(dataset, sampler, num_workers=0):
    """A DataLoader yielding whole batches from ``dataset[list_of_indices]``."""
    return torch.utils.data.DataLoader(
        dataset, sampler=sampler, batch_size=None, num_workers=num_workers, pin_memory=torch.cuda.is_available()
    )
