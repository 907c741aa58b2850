"""Benchmark: one training step of each model (SDT-BP, SDT-VAE, Speech2Gesture, pose VAE, and on request the
Table 2 baselines Audio to Body Dynamics and MoGlow), the mel spectrogram, and the validation loss of fast mode
against fp32.

    python benchmarks/train_step.py [--batch 32] [--threads 2] [--steps 2] [--models sdt_bp,sdt_vae,s2g,pose_vae]
                                    [--modes untuned,default,fast] [--bf16-batch 4] [--quality-epochs 4]

The baselines at their paper sizes, as ratios to SDT-BP in the same run (MoGlow takes minutes per step on 2 CPU
cores, so ask for one mode):
    python benchmarks/train_step.py --models sdt_bp,audio2body,moglow --modes default --bf16-batch 0 \
                                    --quality-epochs 0

Each configuration runs in its own process (the allocator setting is process-wide), through the real
sdt.train.run.Run and sdt.train.engine step functions on random batches:
  untuned  fp32, glibc's default allocator (what the release does)
  default  fp32 + sdt.train.perf.tune_allocator (what `train.fast: false` runs)
  fast     `train.fast: true` as sdt.train.perf.fast_mode resolves it on this machine (bf16 autocast + channels-last
           where the hardware has bf16; else the same as default)
  bf16     bf16 autocast + channels-last forced, at --bf16-batch (0 skips): what fast mode would cost here
A step's time is the minimum over --steps timed steps after one warm-up step; the models take their steps in turn
(one of each, then the next round), so their ratios hold on a machine whose load changes.  The quality part trains
SDT-BP and the pose VAE on sdt.train.synthetic.synthetic_clips for a few epochs in fp32 (two seeds: the noise) and
in fast mode (and forced bf16 when --bf16-batch > 0 for the VAE) and prints the final validation L1.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
METHODS = ("sdt_bp", "sdt_vae", "s2g", "pose_vae")  # the default; audio2body and moglow on request
N_TRAIN = 64  # rows of the template table


def base_settings(**overrides):
    from sdt.train.config import TrainSettings

    train = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["train"]
    return {**TrainSettings.from_config(train).as_dict(), "video_format": [], "validate_ftd": False, **overrides}


def random_batch(method, batch, generator):
    return {"audio": torch.randn(batch, 68266, generator=generator) * 0.1,
            "poses": torch.randn(batch, 64, 2, 121, generator=generator),
            "index": torch.randperm(N_TRAIN, generator=generator)[:batch].sort().values}


def make_run(method, mode, device, stats):
    from sdt.train.perf import FastMode
    from sdt.train.run import Run

    fixed = np.random.default_rng(0).normal(size=(N_TRAIN, 32)).astype(np.float32) if method == "sdt_vae" else None
    torch.manual_seed(0)
    run = Run(method, base_settings(fast=mode == "fast"), stats, N_TRAIN, device, fixed)
    if mode == "bf16":
        run.apply_fast_mode(FastMode(torch.bfloat16, channels_last=True))
    run.train_mode(True)
    return run


def time_steps(methods, mode, batch, steps):
    """{method: seconds of each step (the first is the warm-up)} in ``mode``, in this process.  The methods take
    their steps in turn (one step of each, then the next round), so that a change of the machine's load while they
    run weighs on all of them alike, and their ratios hold."""
    device, stats = torch.device("cpu"), synthetic_stats()
    runs = {m: make_run(m, mode, device, stats) for m in methods}
    generators = {m: torch.Generator().manual_seed(1) for m in methods}
    times = {m: [] for m in methods}
    for _ in range(steps + 1):
        for method, run in runs.items():
            data = random_batch(method, batch, generators[method])
            start = time.perf_counter()
            logs = run.family.step(run, data)
            times[method].append(time.perf_counter() - start)
            if not np.isfinite(logs["loss"]):
                raise FloatingPointError(f"{method} {mode}: loss {logs['loss']}")
    return times


def synthetic_stats():
    rng = np.random.default_rng(0)
    stats = {k: rng.normal(size=(2, 121)).astype(np.float32) for k in ("mean_parted", "mean_global")}
    stats.update({k: rng.uniform(1, 2, (2, 121)).astype(np.float32) for k in ("std_parted", "std_global")})
    return {**stats, "scale_factor": 1.0, "scale_rule": "shoulder_width", "n_train_clips": N_TRAIN}


def child(args):
    """One configuration, in its own process; prints one JSON line."""
    from sdt.train.perf import fast_mode, tune_allocator

    torch.set_num_threads(args.threads)
    if args.mode != "untuned":
        tune_allocator()
    out = {"mode": args.mode, "resolved": fast_mode("cpu", args.mode == "fast").describe()}
    if args.mode == "default":
        from sdt.audio import MelSpectrogram

        mel, audio = MelSpectrogram(), torch.randn(args.batch, 68266)
        mel_times = []
        for _ in range(11):
            start = time.perf_counter()
            mel(audio)
            mel_times.append(time.perf_counter() - start)
        out["mel_ms"] = 1000 * float(np.median(mel_times[1:]))
    out["steps"] = time_steps(args.models.split(","), args.mode, args.batch, args.steps)
    out["load"] = os.getloadavg()[0]
    print(json.dumps(out), flush=True)


def run_child(mode, batch, args, models=None):
    cmd = [sys.executable, __file__, "--child", mode, "--batch", str(batch), "--threads", str(args.threads),
           "--steps", str(args.steps), "--models", models or args.models]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        sys.exit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def quality(args):
    """Final validation L1 of short runs on the synthetic clip set: fp32 (seeds 0, 1), fast (and forced bf16)."""
    from sdt.train.perf import FastMode
    from sdt.train.synthetic import synthetic_clips
    from sdt.train.train import train

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = synthetic_clips(Path(tmp) / "clips", n_train=32, n_dev=8, seed=0)
        plans = [("sdt_bp", {"batch_size": 4, "max_steps_per_epoch": 4}), ("pose_vae", {"batch_size": 8})]
        for method, extra in plans:
            variants = [("fp32", 0, False), ("fp32", 1, False), ("fast", 0, True)]
            if args.bf16_batch and method == "pose_vae":
                variants.append(("bf16 forced", 0, "bf16"))
            for name, seed, fast in variants:
                folder = Path(tmp) / f"{method}-{name}-{seed}"
                settings = base_settings(epochs=args.quality_epochs * (6 if method == "pose_vae" else 1), lr=1e-3,
                                         lr_milestones=[], seed=seed, checkpoint_every=1000, fast=fast is True,
                                         **extra)
                start = time.perf_counter()
                if fast == "bf16":  # sdt.train.train has no switch for a mode this CPU should not use: patch it in
                    import sdt.train.train

                    orig = sdt.train.train.fast_mode
                    sdt.train.train.fast_mode = lambda device, requested: FastMode(torch.bfloat16, channels_last=True)
                    try:
                        run = train(method, data, folder / "m.pt", folder / "h.csv", folder, settings,
                                    threads=args.threads, progress=False)
                    finally:
                        sdt.train.train.fast_mode = orig
                else:
                    run = train(method, data, folder / "m.pt", folder / "h.csv", folder, settings,
                                threads=args.threads, progress=False)
                rows.append((method, name, seed, run.history[-1]["val_l1"], run.step, time.perf_counter() - start))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=2, help="timed steps after one warm-up step")
    ap.add_argument("--models", default=",".join(METHODS))
    ap.add_argument("--modes", default="untuned,default,fast", help="of untuned, default, fast")
    ap.add_argument("--bf16-batch", type=int, default=4, help="batch of the forced-bf16 row (0: skip it)")
    ap.add_argument("--quality-epochs", type=int, default=4, help="0: skip the fp32-vs-fast validation runs")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.mode = args.child
        return child(args)

    print(f"CPU: {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}, {args.threads} threads, "
          f"batch {args.batch}, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    results = {mode: run_child(mode, args.batch, args) for mode in args.modes.split(",")}
    if "fast" in results:
        print(f"fast mode here: {results['fast']['resolved']}")
    if args.bf16_batch:
        results["bf16"] = run_child("bf16", args.bf16_batch, args)
    if "default" in results:
        print(f"\nmel spectrogram of {args.batch} clips: {results['default']['mel_ms']:.1f} ms")
    header = f"{'model':10s}" + "".join(f"{m + ' s/step':>16s}{'samples/s':>11s}" for m in results)
    print("\n" + header + f"{'fast/default':>14s}{'/ sdt_bp':>10s}")
    first = next(iter(results))
    for method in args.models.split(","):
        line = f"{method:10s}"
        best = {}
        for mode, res in results.items():
            best[mode] = min(res["steps"][method][1:])
            batch = args.bf16_batch if mode == "bf16" else args.batch
            line += f"{best[mode]:16.3f}{batch / best[mode]:11.1f}"
        speedup = f"{best['default'] / best['fast']:13.2f}x" if {"default", "fast"} <= set(best) else " " * 14
        ratio = best[first] / min(results[first]["steps"]["sdt_bp"][1:]) if "sdt_bp" in results[first]["steps"] else 0
        print(line + speedup + f"{ratio:9.2f}x", flush=True)
    print("load average during each: " + ", ".join(f"{m} {r['load']:.1f}" for m, r in results.items()))

    if args.quality_epochs:
        print("\nvalidation L1 (normalised) after short runs on sdt.train.synthetic.synthetic_clips "
              "(32 train / 8 dev clips):")
        print(f"{'model':10s}{'mode':>13s}{'seed':>6s}{'val_l1':>9s}{'steps':>7s}{'seconds':>9s}")
        for method, name, seed, val, steps, seconds in quality(args):
            print(f"{method:10s}{name:>13s}{seed:6d}{val:9.4f}{steps:7d}{seconds:9.1f}", flush=True)


if __name__ == "__main__":
    main()
