"""Benchmark: evaluation (clips/s per method) and the demo (seconds of video per second), against the matmul rate.

    python benchmarks/evaluate.py [--clips 64] [--threads 2] [--demo-seconds 20]

On tests/synthetic.py's synthetic_clips with untrained networks in our checkpoint format (speed does not depend on the
weights): sdt.evaluate.evaluate.evaluate for every method with the default settings (one seed, 5 diversity samples:
6 generator passes per clip for SDT, 1 for Speech2Gesture; the pose VAE encodes every prediction), then
sdt.demo.demo.run_demo in grid mode (4 templates) on --demo-seconds of audio.  Each timing follows a 2048x2048 fp32
matmul timing on the same threads; the work's FLOPs come from torch.utils.flop_counter on an untimed run, so
"of matmul" says how much of the machine the stage uses (1.0: all of it in dense arithmetic).
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1] / "tests")]
from rates import Clock, machine_line, matmul_rate  # noqa: E402
from synthetic import synthetic_clips  # noqa: E402
from train_step import base_settings  # noqa: E402

from sdt.checkpoint import save_checkpoint  # noqa: E402
from sdt.demo.demo import run_demo  # noqa: E402
from sdt.evaluate.evaluate import evaluate  # noqa: E402
from sdt.poses import load_stats  # noqa: E402
from sdt.train.run import Run  # noqa: E402

METHODS = ("ground_truth", "mean_pose", "s2g", "sdt_bp", "sdt_vae")
N_TRAIN = 64


def checkpoints(folder, stats):
    """Untrained pose VAE, SDT-BP, SDT-VAE and Speech2Gesture checkpoints (what sdt.train.train writes)."""
    cpu, settings = torch.device("cpu"), base_settings()
    torch.manual_seed(0)
    vae = Run("pose_vae", settings, stats, N_TRAIN, cpu)
    vae.buffers["clip_code_mu"].normal_()
    paths = {"pose_vae": folder / "pose_vae.pt"}
    save_checkpoint(paths["pose_vae"], vae.payload(with_optimisers=False))
    for method in ("s2g", "sdt_bp", "sdt_vae"):
        fixed = vae.buffers["clip_code_mu"].numpy() if method == "sdt_vae" else None
        paths[method] = folder / f"{method}.pt"
        save_checkpoint(paths[method], Run(method, settings, stats, N_TRAIN, cpu, fixed).payload(False))
    return paths


def measured(fn, threads):
    """(result, clock, GFLOP, matmul GFLOP/s) of ``fn()``: FLOPs counted on an untimed call, the matmul rate timed
    right before the timed call."""
    with FlopCounterMode(display=False) as counter:
        fn()
    torch.set_num_threads(threads)  # evaluate / run_demo set the threads they are given
    mm = matmul_rate()[0]
    with Clock() as clock:
        out = fn()
    return out, clock, counter.get_total_flops() / 1e9, mm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--demo-seconds", type=float, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_line(args.threads), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = synthetic_clips(tmp / "clips", n_train=N_TRAIN, n_dev=args.clips)
        ckpt = checkpoints(tmp, load_stats(data["stats"]))
        print(f"\n{'evaluate':14s}{'clips/s':>9s}{'CPU-s/clip':>12s}{'GFLOP/clip':>12s}{'GFLOP/s':>9s}"
              f"{'matmul':>8s}{'of matmul':>11s}")
        for method in METHODS:
            def run(method=method):
                return evaluate("bench", method, data["dev_poses"], data["stats"], ckpt["pose_vae"],
                                tmp / f"{method}.json", dev_audio=data["dev_audio"], model_path=ckpt.get(method),
                                threads=args.threads, progress=False)

            _, clock, gflop, mm = measured(run, args.threads)
            n = args.clips
            print(f"{method:14s}{n / clock.wall:9.1f}{clock.cpu / n:12.3f}{gflop / n:12.2f}{gflop / clock.wall:9.1f}"
                  f"{mm:8.1f}{gflop / clock.wall / mm:11.2f}", flush=True)

        audio = np.concatenate(np.load(data["dev_audio"], mmap_mode="r"))[:int(args.demo_seconds * 16000)]
        soundfile.write(tmp / "speech.wav", audio, 16000)

        def demo():
            return run_demo(ckpt["sdt_vae"], data["stats"], tmp / "speech.wav", tmp / "demo.mp4", tmp / "demo.png",
                            mode="grid", count=4, threads=args.threads, pose_vae=ckpt["pose_vae"])

        info, clock, gflop, mm = measured(demo, args.threads)
        seconds = len(audio) / 16000
        print(f"\ndemo (sdt_vae, grid of {info['panels']}, {seconds:.0f} s of speech, {info['frames']} frames): "
              f"{seconds / clock.wall:.2f} s of video per s wall ({clock.cpu / seconds:.2f} CPU-s per s of video); "
              f"{gflop:.0f} GFLOP: {gflop / clock.wall / mm:.2f} of the matmul rate ({mm:.0f} GFLOP/s), the rest is "
              "drawing and encoding the video")
    print(machine_line(args.threads).split("; ")[-1])


if __name__ == "__main__":
    main()
