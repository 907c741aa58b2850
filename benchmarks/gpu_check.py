"""The GPU check (issue 11): everything that needs a CUDA GPU, in one run with one summary, for when one is lent.

    python benchmarks/gpu_check.py [--steps 5] [--skip-workflow] [--out gpu_check.json]

  1. workflow   the tiny workflow end to end on the GPU (tests/workflow_helpers.py's small sample speaker, tiny
                preset, in a scratch folder): wall time, and that every training, evaluation and demo job ran on
                cuda (their logs).  Needs what `make test` needs (resources/messi5.jpg, espeak-ng).
  2. step       one SDT-BP training step at batch 32 (sdt.train.run.Run + sdt.train.engine on random batches, as
                benchmarks/train_step.py on a CPU): fp32, and the fast mode (bf16 autocast + channels-last +
                torch.compile), each the best of --steps steps after warm-up (the compiled one's first step, the
                compilation, is reported apart).
  3. nccl       with two GPUs or more: SDT-BP trained on 2 processes (NCCL, torchrun via sdt.train.launch) at batch
                16 each and on 1 process at batch 32 on synthetic clips: the relative distance of the weights (as in
                tests/train/test_distributed.py) and the time of each.
Without CUDA it says so and exits with status 2 (nothing is measured on a CPU: benchmarks/train_step.py does that).
"""

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]


def check_workflow():
    """The tiny workflow in a scratch folder on this machine's GPU."""
    from workflow_helpers import make_workdir, snakemake

    with tempfile.TemporaryDirectory(prefix="sdt_gpu_check_") as tmp:
        work = make_workdir(Path(tmp))
        start = time.perf_counter()
        snakemake(work, cores="all", timeout=3600)
        seconds = time.perf_counter() - start
        devices = {}
        for log in sorted((work / "logs").rglob("*.log")):
            found = re.findall(r"device (cuda\S*|cpu)", log.read_text(errors="replace"))
            if found:
                devices[str(log.relative_to(work / "logs"))] = sorted(set(found))
    on_cpu = [name for name, d in devices.items() if name.startswith(("train_", "evaluate/")) and "cpu" in d]
    return {"seconds": round(seconds, 1), "jobs_with_device": len(devices), "gpu_jobs_on_cpu": on_cpu}


def time_step(mode, batch, steps):
    """Seconds of SDT-BP steps at ``batch`` on cuda: {"first": warm-up/compilation, "best": min of ``steps``}."""
    from train_step import make_run, random_batch

    from sdt.train.perf import tune_allocator

    tune_allocator()
    device = torch.device("cuda")
    run = make_run("sdt_bp", mode, "default", device)  # "fast": sdt.train.perf.fast_mode on this GPU
    g = torch.Generator().manual_seed(1)
    times = []
    for _ in range(steps + 1):
        data = {k: v.to(device) for k, v in random_batch(batch, g).items()}
        torch.cuda.synchronize()
        start = time.perf_counter()
        run.ops.step(run, data)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return {"mode": run.fast.describe(), "first": round(times[0], 3), "best": round(min(times[1:]), 4),
            "clips_per_s": round(batch / min(times[1:]), 1)}


def check_nccl(steps):
    """SDT-BP on 2 GPUs at 16 each against 1 GPU at 32: weight distance and times."""
    from conftest import train_settings
    from synthetic import synthetic_clips

    from sdt.checkpoint import load_checkpoint
    from sdt.train.launch import run_job

    settings = train_settings(batch_size=32, epochs=1, max_steps_per_epoch=steps, lr_milestones=[],
                              validate_ftd=False, video_format=[])
    out = {}
    with tempfile.TemporaryDirectory(prefix="sdt_nccl_") as tmp:
        clips = synthetic_clips(Path(tmp) / "clips", n_train=32 * steps, n_dev=4)
        weights = {}
        for n in (1, 2):
            folder = Path(tmp) / f"run{n}"
            job = {"method": "sdt_bp", "data": clips, "model_out": str(folder / "m.pt"),
                   "history_out": str(folder / "h.csv"), "run_dir": str(folder), "settings": settings,
                   "progress": False}
            start = time.perf_counter()
            run_job(job, processes=n, log_path=folder / "train.log")
            out[f"seconds_{n}_gpu"] = round(time.perf_counter() - start, 1)
            ckpt = load_checkpoint(folder / "m.pt")
            parts = [v.double().reshape(-1) for v in ckpt["state_dicts"]["netG"].values() if v.is_floating_point()]
            weights[n] = torch.cat([*parts, ckpt["templates"].double().reshape(-1)])
    out["relative_weight_distance"] = float((weights[1] - weights[2]).norm() / weights[1].norm())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--skip-workflow", action="store_true")
    ap.add_argument("--out", help="also write the summary (JSON) here")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print(f"gpu_check: torch {torch.__version__} sees no CUDA GPU here: nothing to check "
              "(benchmarks/train_step.py measures the CPU)", file=sys.stderr)
        sys.exit(2)
    summary = {"gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
               "torch": torch.__version__, "cuda": torch.version.cuda}
    summary["step_fp32"] = time_step("default", 32, args.steps)
    summary["step_fast"] = time_step("fast", 32, args.steps)
    summary["fast_speedup"] = round(summary["step_fp32"]["best"] / summary["step_fast"]["best"], 2)
    if torch.cuda.device_count() >= 2:
        summary["nccl_2_gpus"] = check_nccl(args.steps)
    if not args.skip_workflow:
        summary["workflow"] = check_workflow()
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
