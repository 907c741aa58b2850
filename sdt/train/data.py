"""Training data: batches straight from the packed, memory-mapped clip arrays of split_dataset/pack_released.

A batch is read with one fancy-index per array (sorted indices: sequential reads of the memmap) and transformed
as a whole (137 -> 121, neck-relative, parted or global, normalised), so loading costs a few ms per batch of 32
and never holds the split in memory.
"""

from pathlib import Path

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


def synthetic_clips(folder, n_train=16, n_dev=4, seed=0, noise_px=0.5, hz=0.5):
    """A small clip set in the packed dataset layout, for tests, benchmarks and smoke runs: ``folder`` gets
    {train,dev}_{poses,audio}.npy and stats.npz (sdt.dataset.compute_stats.compute_stats); returns the paths as
    ``train`` wants.

    The pose is a known function of the audio's loudness: each clip's audio is white noise under an envelope
    a(t) = 0.5 + 0.5 sin(2 pi hz t + phi), phi random per clip (4.27 s at 0.5 Hz: every clip spans quiet to loud,
    so the generator's instance norms, which remove a clip's overall level, keep the information), and every
    point of frame t sits at ``base + a(t) * direction`` (fixed random base and direction per point) plus
    ``noise_px`` of noise.  One phase per clip also leaves the pose VAE a one-dimensional family to encode.
    """
    from sdt import layout
    from sdt.audio import SAMPLE_RATE
    from sdt.dataset.compute_stats import compute_stats
    from sdt.io import save_npy

    folder = Path(folder)
    rng = np.random.default_rng(seed)
    n_frames, fps = 64, 15
    n_samples = int(n_frames * SAMPLE_RATE / fps)  # 68266
    base = np.stack([rng.uniform(300, 900, layout.N_137), rng.uniform(150, 650, layout.N_137)])  # [2, 137] px
    direction = rng.normal(0.0, 30.0, (2, layout.N_137))
    paths = {}
    for split, n in (("train", n_train), ("dev", n_dev)):
        phase = rng.uniform(0, 2 * np.pi, (n, 1))
        t_frame = (np.arange(n_frames) + 0.5) / fps
        env = 0.5 + 0.5 * np.sin(2 * np.pi * hz * t_frame + phase)  # [n, 64] loudness per frame
        poses = np.ones((n, n_frames, 3, layout.N_137), np.float32)  # confidence 1
        jitter = rng.normal(0, noise_px, (n, n_frames, 2, layout.N_137))
        poses[:, :, :2] = base + env[:, :, None, None] * direction + jitter
        frame_of_sample = np.minimum((np.arange(n_samples) * fps) // SAMPLE_RATE, n_frames - 1)
        audio = (rng.standard_normal((n, n_samples)) * 0.1 * env[:, frame_of_sample]).astype(np.float32)
        for kind, arr in (("poses", poses), ("audio", audio)):
            paths[f"{split}_{kind}"] = folder / f"{split}_{kind}.npy"
            save_npy(paths[f"{split}_{kind}"], arr)
    paths["stats"] = folder / "stats.npz"
    compute_stats(paths["train_poses"], paths["stats"], "shoulder_width")
    return {k: str(v) for k, v in paths.items()}
