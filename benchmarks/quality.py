"""train_step.py --quality-epochs N: does fast mode train as well as fp32?  Short runs on the synthetic clip set.

Final validation L1 of SDT-BP and the pose VAE: fp32 with seeds 0 and 1 (the seed-to-seed noise) and ``train.fast``
as sdt.train.perf.fast_mode resolves it on this machine (= fp32 where the CPU has no native bf16).
"""

import tempfile
import time
from pathlib import Path

from train_step import base_settings


def print_quality(args):
    from synthetic import synthetic_clips

    from sdt.train.train import train

    print("\nvalidation L1 (normalised) after short runs on tests/synthetic.py's synthetic_clips (32 train / 8 dev):")
    print(f"{'model':10s}{'mode':>6s}{'seed':>6s}{'val_l1':>9s}{'steps':>7s}{'seconds':>9s}")
    with tempfile.TemporaryDirectory() as tmp:
        data = synthetic_clips(Path(tmp) / "clips", n_train=32, n_dev=8, seed=0)
        plans = [("sdt_bp", {"batch_size": 4, "max_steps_per_epoch": 4}), ("pose_vae", {"batch_size": 8})]
        for method, extra in plans:
            for name, seed in (("fp32", 0), ("fp32", 1), ("fast", 0)):
                folder = Path(tmp) / f"{method}-{name}-{seed}"
                settings = base_settings(epochs=args.quality_epochs * (6 if method == "pose_vae" else 1), lr=1e-3,
                                         lr_milestones=[], seed=seed, checkpoint_every=1000, fast=name == "fast",
                                         **extra)
                start = time.perf_counter()
                run = train(method, data, folder / "m.pt", folder / "h.csv", folder, settings, threads=args.threads,
                            progress=False)
                print(f"{method:10s}{name:>6s}{seed:6d}{run.history[-1]['val_l1']:9.4f}{run.step:7d}"
                      f"{time.perf_counter() - start:9.1f}", flush=True)
