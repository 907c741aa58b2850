"""Benchmark: the sample speaker's dataset chain against its detection alone, and every stage against real time.

    python benchmarks/chain.py                  # the default sample: 3 videos x 44 s, --cores 2
    python benchmarks/chain.py --videos 2 --seconds 20 --keep /tmp/chain

Runs the real workflow in a scratch folder, three times with Snakemake on --cores:
  1. the sample's source videos (make_sample_video: what a real speaker brings; timed, not part of the chain),
  2. the dataset chain from them: change_fps -> extract_frames -> detect_keypoints -> ... -> compute_stats, qc_table,
  3. detection alone again on the same frames (--forcerun detect_keypoints; the frames are kept for it): the floor.
Each wall time has Snakemake's own start-up (a run with nothing to do, timed first) taken out.  Prints the chain
over detection alone (goal <= 1.5: the other stages together cost less than half of detection), and per rule its
jobs, their wall and CPU seconds (Snakemake's benchmark files; CPU time as psutil sampled it) and seconds of video per
second of job wall ("x real time").  Video jobs declare one thread, so two run side by side on 2 cores.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rates import load  # noqa: E402
from workflow_helpers import REPO, make_workdir, snakemake  # noqa: E402

VIDEO_RULES = ("make_sample_video", "change_fps", "extract_frames", "detect_keypoints")


def timed(work, *args, cores):
    """(wall, CPU) seconds of one Snakemake run: CPU = user + sys of Snakemake and every job it ran."""
    cpu, start = os.times(), time.perf_counter()
    snakemake(work, *args, cores=cores, timeout=3600)
    end = os.times()
    return np.array([time.perf_counter() - start,
                     end.children_user + end.children_system - cpu.children_user - cpu.children_system])


def per_rule(work, seconds):
    rows = []
    for tsv in sorted((work / "results" / "benchmarks").rglob("*.tsv")):
        rule = tsv.relative_to(work / "results" / "benchmarks").parts[0]
        last = pd.read_csv(tsv, sep="\t").iloc[-1]
        rows.append({"rule": rule, "s": last["s"], "cpu": last["cpu_time"]})
    table = pd.DataFrame(rows).groupby("rule", sort=False).agg(jobs=("s", "size"), wall=("s", "sum"),
                                                               cpu=("cpu", "sum"))
    table["x real time"] = [seconds * n / w if r in VIDEO_RULES else float("nan")
                            for r, n, w in zip(table.index, table["jobs"], table["wall"], strict=True)]
    return table


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=44)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--keep", help="run in this folder and keep it (default: a temporary folder)")
    args = ap.parse_args()

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sdt-chain-"))
    sample = {"photo": str(REPO / "resources" / "messi5.jpg"), "videos": args.videos, "seconds": args.seconds}
    work = make_workdir(folder, {"speakers": {"sample": {"sample": True}}, "sample": sample,
                                 "dataset": {"keep_frames": True}})
    names = [f"sample{i:02d}" for i in range(args.videos)]
    sources = [f"results/sample/source/{n}.mp4" for n in names]
    keypoints = [f"results/sample/keypoints/{n}.npz" for n in names]
    print(f"{os.cpu_count()} cores, --cores {args.cores}; load average {load():.1f}", flush=True)
    startup = timed(work, "--dry-run", "--quiet", cores=args.cores)  # Snakemake parsing the workflow
    source = timed(work, *sources, cores=args.cores) - startup
    chain = timed(work, "results/sample/stats.npz", "results/sample/qc.csv", cores=args.cores) - startup
    table = per_rule(work, args.seconds)
    detect = timed(work, *keypoints, "--forcerun", "detect_keypoints", cores=args.cores) - startup

    total = args.videos * args.seconds
    print(f"sample: {args.videos} video(s) x {args.seconds:g} s = {total:g} s of 1280x720 video "
          f"({total * 15:.0f} frames at 15 fps); Snakemake's start-up ({startup[0]:.1f} s) taken out of each run")
    print(f"{'':37s}{'wall s':>8s}{'x real time':>13s}{'CPU s':>8s}{'x real time/CPU-s':>19s}")
    runs = (("source videos (make_sample_video)", source), ("dataset chain (change_fps .. stats)", chain),
            ("detection alone (same frames)", detect))
    for name, (wall, cpu) in runs:
        print(f"{name:37s}{wall:8.1f}{total / wall:13.2f}{cpu:8.1f}{total / cpu:19.2f}")
    print(f"chain / detection alone = {chain[0] / detect[0]:.2f} by wall, {chain[1] / detect[1]:.2f} by CPU "
          "(goal <= 1.5: the other stages cost less than half of detection)\n")
    print("per rule, from Snakemake's benchmark files (their CPU time is psutil's sampling: a lower bound):")
    print(table.round(2).to_string())
    print(f"\nload average at the end {load():.1f}" + (f"; results in {work}" if args.keep else ""))


if __name__ == "__main__":
    main()
