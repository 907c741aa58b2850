"""Benchmark: each model's training step as a fraction of the machine's fp32 matrix-multiply rate, in one run.

    python benchmarks/train_step.py [--batch 32] [--threads 2] [--reps 3] [--models sdt_bp,s2g,sdt_vae,pose_vae]
                                    [--modes untuned,tuned] [--no-convs] [--bf16-batch 4] [--quality-epochs 0]

Through the real sdt.train.run.Run and its family's step function (sdt/families/) on random batches, per model: the
FLOPs of one step (torch.utils.flop_counter), then --reps timed steps, each right after a timing of a 2048x2048 fp32
``torch.mm`` on the same threads.  Prints the best step against the best matmul rate, by wall time and per CPU-second
(on a loaded machine wall times grow with the other jobs' share of the cores, CPU times much less).
One process per allocator setting (it is process-wide); inside one, the formulations' steps alternate:
  untuned  "release as is": the release's formulation (plain conv -> norm -> activation ops, NCHW) on glibc's
           default allocator
  tuned    sdt.train.perf.tune_allocator, then "release + allocator" (the release's formulation) and "default"
           (what training runs, ``train.fast: false``: models/fused.py, channels-last audio encoders where
           sdt.device.channels_last_pays), alternating; plus, unless --no-convs, "encoder convs": the audio
           encoder's convolutions alone (forward, input- and weight-gradient products), the ceiling of a step
  fast     ``train.fast: true`` as sdt.train.perf.fast_mode resolves it here
  bf16     bf16 autocast + channels-last forced, at --bf16-batch
--quality-epochs > 0 adds short training runs on synthetic clips (fp32, two seeds, against fast mode).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1] / "tests")]
from rates import BestOf, Clock, load, machine_line, matmul_rate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
METHODS = ("sdt_bp", "s2g", "sdt_vae", "pose_vae")  # the default; --models audio2body,moglow for the baselines
N_TRAIN = 64  # rows of the template table


def base_settings(**overrides):
    from sdt.train.config import TrainSettings

    return {**TrainSettings().as_dict(), "video_format": [], "validate_ftd": False, **overrides}


def random_batch(batch, generator):
    return {"audio": torch.randn(batch, 68266, generator=generator) * 0.1,
            "poses": torch.randn(batch, 64, 2, 121, generator=generator),
            "index": torch.randperm(N_TRAIN, generator=generator)[:batch].sort().values}


def synthetic_stats():
    rng = np.random.default_rng(0)
    stats = {k: rng.normal(size=(2, 121)).astype(np.float32) for k in ("mean_parted", "mean_global")}
    stats.update({k: rng.uniform(1, 2, (2, 121)).astype(np.float32) for k in ("std_parted", "std_global")})
    return {**stats, "scale_factor": 1.0, "scale_rule": "shoulder_width", "n_train_clips": N_TRAIN}


def plain_forward(self, x):  # the release's block: conv -> norm -> activation as separate ops
    return self.act(self.norm(self.conv(x)))


FUSED_FORWARD = None  # models.blocks.ConvNormRelu.forward as shipped (models/fused.py), set by child()


def use(formulation):
    """Blocks computed as the release does ("release": plain ops) or as the workflow does ("default")."""
    from models.blocks import ConvNormRelu

    ConvNormRelu.forward = plain_forward if formulation == "release" else FUSED_FORWARD


def make_run(method, mode, formulation, device):
    import sdt.device
    from sdt.train.perf import FastMode
    from sdt.train.run import Run

    fixed = np.random.default_rng(0).normal(size=(N_TRAIN, 32)).astype(np.float32) if method == "sdt_vae" else None
    torch.manual_seed(0)
    pays = sdt.device.channels_last_pays
    if formulation == "release":  # NCHW, as the release
        sdt.device.channels_last_pays = lambda device: False
    try:
        run = Run(method, base_settings(fast=mode == "fast"), synthetic_stats(), N_TRAIN, device, fixed)
    finally:
        sdt.device.channels_last_pays = pays
    if mode == "bf16":
        run.apply_fast_mode(FastMode(torch.bfloat16, channels_last=True))
    run.train_mode(True)
    return run


def time_model(method, mode, formulations, batch, reps):
    """{formulation: {gflop, wall, cpu, mm, mm_cpu}} of ``method``'s step in this process: the formulations'
    steps interleaved, each right after a matmul timing; the best of ``reps`` after a warm-up."""
    from torch.utils.flop_counter import FlopCounterMode

    data = random_batch(batch, torch.Generator().manual_seed(1))
    runs, out = {f: make_run(method, mode, f, torch.device("cpu")) for f in formulations}, {}
    for f, run in runs.items():
        step = run.ops.step  # the method family's training step (sdt/families/)
        use(f)
        logs = step(run, data)  # warm-up: oneDNN primitives, allocator
        if not np.isfinite(logs["loss"]):
            raise FloatingPointError(f"{method} {mode} {f}: loss {logs['loss']}")
        with FlopCounterMode(display=False) as counter:
            step(run, data)
        out[f] = (counter.get_total_flops() / 1e9, BestOf())
    for _ in range(reps):
        for f, run in runs.items():
            use(f)
            out[f][1].add_mm(matmul_rate())
            with Clock() as clock:
                run.ops.step(run, data)
            out[f][1].add(clock)
    return {f: {"gflop": gflop, **vars(best)} for f, (gflop, best) in out.items()}


def conv_layers(batch, reps):
    """The audio encoder's 2D convolutions alone (default layout): {gflop, wall, cpu, mm, mm_cpu}."""
    import torch.nn.functional as F

    from models.audio_encoder import AudioEncoder
    from models.fused import conv
    from sdt.device import channels_last_pays

    encoder = AudioEncoder()
    if channels_last_pays("cpu"):
        encoder.to(memory_format=torch.channels_last)
    x = torch.randn(batch, 1, 80, 427)
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
    """One process-wide setting, in its own process; prints one JSON line {label: {model: timings}}."""
    global FUSED_FORWARD
    from models.blocks import ConvNormRelu
    from sdt.train.perf import fast_mode, tune_allocator

    FUSED_FORWARD = ConvNormRelu.forward
    torch.set_num_threads(args.threads)
    if args.mode != "untuned":
        tune_allocator()
    formulations = {"untuned": ["release"], "tuned": ["release", "default"]}.get(args.mode, ["default"])
    batch = args.bf16_batch if args.mode == "bf16" else args.batch
    labels = {("untuned", "release"): "release as is", ("tuned", "release"): "release + allocator",
              ("tuned", "default"): "default"}
    out = {"resolved": fast_mode("cpu", args.mode == "fast").describe(), "load": [load()], "rows": {}}
    for m in args.models.split(","):
        for f, timing in time_model(m, args.mode, formulations, batch, args.reps).items():
            out["rows"].setdefault(labels.get((args.mode, f), args.mode), {})[m] = timing
    if args.mode == "tuned" and not args.no_convs:
        out["rows"]["default"]["encoder convs"] = conv_layers(args.batch, args.reps)
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


def print_table(results):
    rows = {label: res for r in results.values() for label, res in r["rows"].items()}
    print(f"\n{'model':14s}{'':21s}{'GFLOP':>7s}{'s/step':>8s}{'GFLOP/s':>9s}{'matmul':>8s}{'of matmul':>11s}"
          f"{'CPU s':>7s}{'of matmul/CPU-s':>17s}{'vs release':>12s}")
    for name in dict.fromkeys(m for res in rows.values() for m in res):
        for label, res in rows.items():
            r = res.get(name)
            if r is None:
                continue
            rate, rate_cpu = r["gflop"] / r["wall"], r["gflop"] / r["cpu"]
            ref = rows.get("release as is", {}).get(name)
            vs = f"{ref['wall'] / r['wall']:11.2f}x" if ref and label != "release as is" else ""
            print(f"{name:14s}{label:21s}{r['gflop']:7.1f}{r['wall']:8.3f}{rate:9.1f}{r['mm']:8.1f}"
                  f"{rate / r['mm']:11.2f}{r['cpu']:7.2f}{rate_cpu / r['mm_cpu']:17.2f}{vs}")
    print("load average before/after each process: " + ", ".join(
        f"{m} {res['load'][0]:.1f}/{res['load'][1]:.1f}" for m, res in results.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3, help="timed steps (each after a matmul timing)")
    ap.add_argument("--models", default=",".join(METHODS))
    ap.add_argument("--modes", default="untuned,tuned", help="processes: untuned, tuned, fast, bf16")
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
    print("matmul: the best 2048x2048 fp32 torch.mm rate timed right before each step, in the same process")
    print_table(results)
    if args.quality_epochs:
        from quality import print_quality

        print_quality(args)


if __name__ == "__main__":
    main()
