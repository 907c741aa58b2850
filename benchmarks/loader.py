"""Benchmark: training-data loading, clips/s from the packed memory-mapped arrays through sdt.train.data.ClipBatches
(one fancy-index read per array, 137 -> 121, parted, normalised) and the DataLoader, batch by batch.

    python benchmarks/loader.py [--clips 1024] [--batch 32] [--workers 0] [--epochs 3]

Writes a synthetic clip set (tests/synthetic.py's synthetic_clips) to a temporary folder, then times whole epochs of
shuffled batches (EpochBatchSampler).  The first epoch reads the files through the page cache as they were just
written; the best epoch is reported, and split into reading (memory-map fancy index) and the pose transforms.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sdt.poses import load_stats, normalise, to_121, to_parted
from sdt.train.data import ClipBatches, EpochBatchSampler, batch_loader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the synthetic clip set's home
from synthetic import synthetic_clips  # noqa: E402


def timed_epochs(loader, sampler, epochs):
    times = []
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)
        start = time.perf_counter()
        n = sum(len(batch["index"]) for batch in loader)
        times.append(time.perf_counter() - start)
    return n, times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = synthetic_clips(tmp, n_train=args.clips, n_dev=1)
        stats = load_stats(data["stats"])
        dataset = ClipBatches(data["train_poses"], data["train_audio"], stats)
        sampler = EpochBatchSampler(len(dataset), args.batch, seed=0)
        n, times = timed_epochs(batch_loader(dataset, sampler, args.workers), sampler, args.epochs)
        best = min(times)
        print(f"{n} clips of {(dataset.poses[0].nbytes + dataset.audio[0].nbytes) / 1e6:.2f} MB, batch {args.batch}, "
              f"{args.workers} workers: {n / best:.0f} clips/s ({1000 * best / n:.3f} ms per clip; "
              f"epochs {', '.join(f'{t:.2f}' for t in times)} s)")

        # where a batch's time goes (in this process)
        read = transform = 0.0
        batches = list(sampler)
        for indices in batches:
            idx = np.sort(np.asarray(indices))
            start = time.perf_counter()
            poses = np.asarray(dataset.poses[idx], dtype=np.float32)
            audio = np.ascontiguousarray(dataset.audio[idx], dtype=np.float32)
            mid = time.perf_counter()
            normalise(to_parted(to_121(poses)), dataset.mean, dataset.std)
            read, transform = read + mid - start, transform + time.perf_counter() - mid
            del audio
        print(f"per batch of {args.batch}: read {1000 * read / len(batches):.2f} ms (memory map, both arrays), "
              f"pose transforms {1000 * transform / len(batches):.2f} ms")


if __name__ == "__main__":
    main()
