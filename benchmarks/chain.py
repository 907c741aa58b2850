"""Wall time of the dataset chain (make_sample_video ... compute_stats, qc_table) on the sample speaker.

    .venv/bin/python benchmarks/chain.py                 # the default sample: 3 videos x 44 s, --cores 2
    .venv/bin/python benchmarks/chain.py --videos 1 --seconds 20 --cores 2 --keep /tmp/chain

Runs the real workflow in a scratch folder up to the dataset targets and prints the wall time, then per rule the
number of jobs and the sum of their own wall times (from the rules' `benchmark:` files; rules without one show
'-').  The per-rule sums exceed the wall time where jobs ran side by side.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from workflow_helpers import REPO, make_workdir, snakemake  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=44)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--keep", help="run in this folder and keep it (default: a temporary folder)")
    args = ap.parse_args()

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sdt-chain-"))
    sample = {"photo": str(REPO / "resources" / "messi5.jpg"), "videos": args.videos, "seconds": args.seconds}
    work = make_workdir(folder, {"speakers": {"sample": {"sample": True}}, "sample": sample})
    start = time.perf_counter()
    snakemake(work, "results/sample/stats.npz", "results/sample/qc.csv", cores=args.cores, timeout=3600)
    wall = time.perf_counter() - start

    rows = []
    for tsv in sorted((work / "results" / "benchmarks").rglob("*.tsv")):
        rule = tsv.relative_to(work / "results" / "benchmarks").parts[0]
        rows.append({"rule": rule, "s": pd.read_csv(tsv, sep="\t")["s"].iloc[-1]})
    per_rule = pd.DataFrame(rows).groupby("rule", sort=False)["s"].agg(["count", "sum"])
    frames = args.videos * args.seconds * 15
    print(f"dataset chain, {args.videos} video(s) x {args.seconds:g} s ({frames:.0f} frames at 15 fps), "
          f"--cores {args.cores}: {wall:.1f} s wall")
    print(per_rule.rename(columns={"count": "jobs", "sum": "job s (sum)"}).round(1).to_string())
    print(f"results in {work}" if args.keep else "")


if __name__ == "__main__":
    main()
