"""Running the real workflow in a scratch working directory (shared by the workflow, staleness and SLURM tests)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# A small but complete run of the bundled sample speaker: 2 videos of 14 s -> 28 clips each (22 train, 2 idle,
# 4 dev) with 10 skipped frames, the tiny training preset.  Methods of every family and of each of the paper's tables:
# the release's three, no_template (Tables 1 and 3), Audio to Body Dynamics and a narrow MoGlow of the config's own
# (the paper's 211 M-parameter one costs minutes per step on a CPU).
SMALL_CONFIG = {
    "speakers": {"sample": {"sample": True}},
    "sample": {"photo": str(REPO / "resources" / "messi5.jpg"), "videos": 2, "seconds": 14, "seed": 0},
    "dataset": {"skip_frames": 10, "idle_clips": 2},
    "train": {"preset": "tiny"},
    "methods": {"moglow_small": {"family": "moglow", "net": {"hidden": 32, "n_steps": 2, "n_lstm_layers": 1}}},
    "evaluate": {"methods": ["s2g", "sdt_bp", "sdt_vae", "no_template", "audio2body", "moglow_small"]},
}


def make_workdir(path, config=None):
    """A working directory with config/config.yaml = the repo's config updated with ``config``."""
    path = Path(path)
    (path / "config").mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for key, value in (config or SMALL_CONFIG).items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) and key != "speakers" else value
    (path / "config" / "config.yaml").write_text(yaml.safe_dump(base))
    return path


# What a copy of the workflow needs: the Snakefile and what it reads relative to itself.  The step scripts import
# the copy's own sdt and models (rules/common.smk puts the workflow's folder first on their PYTHONPATH).
WORKFLOW_FILES = ("Snakefile", "rules", "workflow_scripts", "config", "envs", "report", "sdt", "models")


def copy_workflow(dest):
    """A private copy of the workflow's source, so a test may touch its code without touching the repo's.
    Returns the copy's Snakefile."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest / "Snakefile"


def snakemake(workdir, *args, cores=2, timeout=1200, check=True, snakefile=None):
    """Run snakemake on the repo's Snakefile (or ``snakefile``) in ``workdir``; returns the CompletedProcess with
    ``.output`` = stdout + stderr."""
    snakefile = snakefile or REPO / "Snakefile"
    cmd = [*SNAKEMAKE, "-s", str(snakefile), "--directory", str(workdir), "--cores", str(cores), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    proc.output = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.output[-6000:]}")
    return proc


def planned_models(workdir, *args, snakefile=None):
    """The model files (results/<speaker>/models/<method>.pt) a dry run would train: {rule: sorted methods}."""
    out = snakemake(workdir, "--dry-run", *args, snakefile=snakefile).output
    models, rule = {}, None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("rule ") and line.endswith(":"):
            rule = line[5:-1]
        elif line.startswith("output:") and rule and rule.startswith("train_"):
            models.setdefault(rule, []).extend(re.findall(r"models/([^/,\s]+)\.pt", line))
    return {rule: sorted(names) for rule, names in models.items()}


def planned_jobs(workdir, *args, snakefile=None, targets=()):
    """{rule: count} of the jobs a dry run (of ``targets``, default all) would run."""
    out = snakemake(workdir, *targets, "--dry-run", "--quiet", "rules", *args, snakefile=snakefile).output
    jobs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job"):
            jobs[parts[0]] = int(parts[1])
    return jobs
