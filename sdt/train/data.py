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
    """Shuffled batches whose order depends only on (seed, epoch): a resumed run sees the same batches."""

    def __init__(self, n, batch_size, seed, shuffle=True, max_batches=0, drop_last=False):
        self.n, self.batch_size, self.seed, self.shuffle = n, batch_size, seed, shuffle
        self.max_batches, self.drop_last, self.epoch = max_batches, drop_last, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def _batches(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
            order = torch.randperm(self.n, generator=g).numpy()
        else:
            order = np.arange(self.n)
        batches = [order[i : i + self.batch_size] for i in range(0, self.n, self.batch_size)]
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
