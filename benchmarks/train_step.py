"""Benchmark: each model's training step as a fraction of the machine's fp32 matrix-multiply rate, in one run.

    python benchmarks/train_step.py [--batch 32] [--threads 2] [--reps 3] [--models sdt_bp,s2g,sdt_vae,pose_vae]
                                    [--modes release,default] [--no-convs] [--bf16-batch 0] [--quality-epochs 0]

For each mode (a process of its own: the allocator setting is process-wide) and model, through the real
sdt.train.run.Run and sdt.train.engine step functions on random batches: the FLOPs of one step
(torch.utils.flop_counter), then --reps timed steps, each right after a timing of a 2048x2048 fp32 ``torch.mm`` on the
same threads.  Prints the best step against the best matmul rate (wall), and the same per CPU-second (on a loaded
machine wall times grow with the other jobs' share of the cores, CPU times much less).  Modes:
  release  the release's formulation: plain conv -> norm -> activation ops, NCHW, glibc's default allocator
  default  what training runs (``train.fast: false``): models/fused.py, channels-last audio encoders where
           sdt.device.channels_last_pays, the tuned allocator (sdt.train.perf.tune_allocator)
  fast     ``train.fast: true`` as sdt.train.perf.fast_mode resolves it here
  bf16     bf16 autocast + channels-last forced, at --bf16-batch
Unless --no-convs, also the audio encoder's convolutions alone (forward + both backward products, per layer, in the
default layout): the ceiling of a step made of them.  --quality-epochs > 0 adds short training runs on synthetic clips
(fp32, two seeds, against fast mode) and prints their validation L1.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rates import BestOf, Clock, load, machine_line, matmul_rate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
METHODS = ("sdt_bp", "s2g", "sdt_vae", "pose_vae")
N_TRAIN = 64  # rows of the template table


def base_settings(**overrides):
    from sdt.train.config import TrainSettings

    train = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["train"]
    return {**TrainSettings.from_config(train).as_dict(), "video_format": [], "validate_ftd": False, **overrides}


def random_batch(batch, generator):
    return {"audio": torch.randn(batch, 68266, generator=generator) * 0.1,
            "poses": torch.randn(batch, 64, 2, 121, generator=generator),
            "index": torch.randperm(N_TRAIN, generator=generator)[:batch].sort().values}


def synthetic_stats():
    rng = np.random.default_rng(0)
    stats = {k: rng.normal(size=(2, 121)).astype(np.float32) for k in ("mean_parted", "mean_global")}
    stats.update({k: rng.uniform(1, 2, (2, 121)).astype(np.float32) for k in ("std_parted", "std_global")})
    return {**stats, "scale_factor": 1.0, "scale_rule": "shoulder_width", "n_train_clips": N_TRAIN}


def release_formulation():
    """This process computes the blocks as the release does: plain ops, NCHW."""
    import sdt.device
    from models.blocks import ConvNormRelu

    ConvNormRelu.forward = lambda self, x: self.act(self.norm(self.conv(x)))
    sdt.device.channels_last_pays = lambda device: False


def make_run(method, mode, device):
    from sdt.train.perf import FastMode
    from sdt.train.run import Run

    fixed = np.random.default_rng(0).normal(size=(N_TRAIN, 32)).astype(np.float32) if method == "sdt_vae" else None
    torch.manual_seed(0)
    run = Run(method, base_settings(fast=mode == "fast"), synthetic_stats(), N_TRAIN, device, fixed)
    if mode == "bf16":
        run.apply_fast_mode(FastMode(torch.bfloat16, channels_last=True))
    run.train_mode(True)
    return run


def time_model(method, mode, batch, reps):
    """{gflop, wall, cpu, mm, mm_cpu} of ``method``'s step in this process: best of ``reps`` after a warm-up."""
    from torch.utils.flop_counter import FlopCounterMode

    from sdt.train import engine

    run, step = make_run(method, mode, torch.device("cpu")), engine.STEPS[method]
    data = random_batch(batch, torch.Generator().manual_seed(1))
    logs = step(run, data)  # warm-up: oneDNN primitives, allocator
    if not np.isfinite(logs["loss"]):
        raise FloatingPointError(f"{method} {mode}: loss {logs['loss']}")
    with FlopCounterMode(display=False) as counter:
        step(run, data)
    best = BestOf()
    for _ in range(reps):
        best.add_mm(matmul_rate())
        with Clock() as clock:
            step(run, data)
        best.add(clock)
    return {"gflop": counter.get_total_flops() / 1e9, **vars(best)}


def conv_layers(reps):
    """The audio encoder's 2D convolutions alone (batch 32, default layout): {gflop, wall, cpu, mm, mm_cpu}."""
    import torch.nn.functional as F

    from models.audio_encoder import AudioEncoder
    from models.fused import conv
    from sdt.device import channels_last_pays

    encoder = AudioEncoder()
    if channels_last_pays("cpu"):
        encoder.to(memory_format=torch.channels_last)
    x = torch.randn(32, 1, 80, 427)
    layers = [block[i] for block in encoder.specgram_encoder_2d for i in (0, 1)]
    inputs = []
    for layer in layers:  # each layer's input: the previous layer's output, in the layout the encoder runs
        inputs.append(x)
        x = F.leaky_relu(conv(layer.conv, x).detach(), 0.2)
    best, gflop = BestOf(), 0.0
    for rep in range(reps):
        best.add_mm(matmul_rate())
        with Clock() as clock:
            for layer, x in zip(layers, inputs, strict=True):
                x = x.requires_grad_(x.shape[1] > 1)
                y = conv(layer.conv, x)
                y.backward(torch.ones_like(y))
                x.grad = None
                if rep == 0:  # forward, input-gradient (not for the mel) and weight-gradient products
                    gflop += 2 * y.numel() * layer.conv.weight[0].numel() * (3 if x.shape[1] > 1 else 2) / 1e9
        best.add(clock)
    return {"gflop": gflop, **vars(best)}


def child(args):
    """One mode, in its own process; prints one JSON line."""
    from sdt.train.perf import fast_mode, tune_allocator

    torch.set_num_threads(args.threads)
    if args.mode == "release":
        release_formulation()
    else:
        tune_allocator()
    out = {"mode": args.mode, "resolved": fast_mode("cpu", args.mode == "fast").describe(), "load": [load()]}
    batch = args.bf16_batch if args.mode == "bf16" else args.batch
    out["models"] = {m: time_model(m, args.mode, batch, args.reps) for m in args.models.split(",")}
    if args.mode == "default" and not args.no_convs:
        out["models"]["encoder convs"] = conv_layers(args.reps)
    out["load"].append(load())
    print(json.dumps(out), flush=True)


def run_child(mode, args):
    cmd = [sys.executable, __file__, "--child", mode, "--batch", str(args.batch), "--threads", str(args.threads),
           "--reps", str(args.reps), "--models", args.models, "--bf16-batch", str(args.bf16_batch)]
    cmd += ["--no-convs"] if args.no_convs else []
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        sys.exit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(results, args):
    print(f"\n{'model':14s}{'mode':>9s}{'GFLOP':>8s}{'s/step':>9s}{'GFLOP/s':>9s}{'matmul':>9s}{'of matmul':>11s}"
          f"{'CPU s':>8s}{'of matmul/CPU-s':>17s}{'vs release':>12s}")
    names = list(dict.fromkeys(m for res in results.values() for m in res["models"]))
    for name in names:
        for mode, res in results.items():
            r = res["models"].get(name)
            if r is None:
                continue
            rate, rate_cpu = r["gflop"] / r["wall"], r["gflop"] / r["cpu"]
            rel = results.get("release", {}).get("models", {}).get(name)
            vs = f"{rel['wall'] / r['wall']:11.2f}x" if rel and mode != "release" else ""
            print(f"{name:14s}{mode:>9s}{r['gflop']:8.1f}{r['wall']:9.3f}{rate:9.1f}{r['mm']:9.1f}"
                  f"{rate / r['mm']:11.2f}{r['cpu']:8.2f}{rate_cpu / r['mm_cpu']:17.2f}{vs}")
    print("load average before/after each mode: " + ", ".join(
        f"{m} {res['load'][0]:.1f}/{res['load'][1]:.1f}" for m, res in results.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3, help="timed steps (each after a matmul timing)")
    ap.add_argument("--models", default=",".join(METHODS))
    ap.add_argument("--modes", default="release,default")
    ap.add_argument("--no-convs", action="store_true", help="skip the encoder-convolutions-alone row")
    ap.add_argument("--bf16-batch", type=int, default=4, help="batch of the bf16 mode")
    ap.add_argument("--quality-epochs", type=int, default=0, help="> 0: fp32-vs-fast validation runs")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.mode = args.child
        return child(args)

    print(f"{machine_line(args.threads)}; batch {args.batch}", flush=True)
    results = {mode: run_child(mode, args) for mode in args.modes.split(",")}
    print(f"fast mode here: {results.get('fast', {}).get('resolved', 'not run')}")
    print("matmul: the best 2048x2048 fp32 torch.mm rate timed between the steps of the same process")
    print_table(results, args)
    if args.quality_epochs:
        from quality import print_quality

        print_quality(args)


if __name__ == "__main__":
    main()
