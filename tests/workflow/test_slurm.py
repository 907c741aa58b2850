"""The SLURM profile on a real SLURM cluster: one node on this machine with one fake GPU, started by
tests/slurm/cluster.sh (munge + slurmctld + slurmd) and stopped by PID at the end of the session.

Every cluster run is `snakemake --profile profiles/slurm --workflow-profile tests/slurm/profile` (the second
points the first at the test cluster: partition, squeue status checks, short delays, small resources) under a
time limit.  Needs root and Debian's slurmctld slurmd slurm-client munge: skipped with the reason without them,
except in CI (CI=true) as root, where envs/setup.sh must have installed them, so a missing one fails.
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import REPO, copy_workflow, make_workdir, snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
PROFILE_ARGS = ["--profile", str(REPO / "profiles/slurm"), "--workflow-profile", str(REPO / "tests/slurm/profile")]
APT_PACKAGES = "slurmctld slurmd slurm-client munge"  # envs/setup.sh installs them
SLURM_TOOLS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "scancel")
CANNOT_RUN = {2: "not root", 3: "SLURM/munge not installed", 4: "a real SLURM is configured here"}  # cluster.sh
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: \S*/rule_([^/\s]+)/\S*\)")
RUN_ID = re.compile(r"SLURM run ID: (\S+)")

# One 14 s sample video (seed 0: the first video of test_workflow's run) and the tiny training preset on 2 GPUs.
# The dataset is built locally (the video stages have their own tests); statistics, QC table and training are
# SLURM jobs: two CPU jobs side by side, then the 2-GPU job that needs one of them, which trains the pose VAE on
# two processes (torchrun; gloo on the CPU: the cluster's GPUs are fake).
TINY_CONFIG = {
    "speakers": {"sample": {"sample": True}},
    "sample": {"photo": str(REPO / "resources" / "messi5.jpg"), "videos": 1, "seconds": 14, "seed": 0},
    "dataset": {"skip_frames": 10, "idle_clips": 2},
    "train": {"preset": "tiny", "gpus": 2},
}
LOCAL_TARGET = "results/sample/dataset/clips.csv"
SLURM_TARGETS = ("results/sample/models/pose_vae.pt", "results/sample/qc.csv")
SLURM_RULES = {"qc_table", "compute_stats", "train_pose_vae"}  # train_pose_vae: gpu=2


def _why_unavailable():
    """None when a test cluster can be started here, else the reason."""
    if os.geteuid() != 0:
        return "needs root: slurmd starts jobs under their user's id (CI runs the tests as root)"
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    missing = [t for t in SLURM_TOOLS if shutil.which(t, path=path) is None]
    if missing:
        return f"missing {' '.join(missing)}: run `make setup` as root (apt-get install {APT_PACKAGES})"
    return None


@pytest.fixture(scope="session")
def slurm_env():
    """Environment in which sbatch & co. reach the test cluster; starts it, and stops it if this session did."""
    reason = _why_unavailable()
    if reason:
        if os.environ.get("CI") == "true" and os.geteuid() == 0:
            pytest.fail(f"the SLURM test cluster cannot run in CI: {reason}")
        pytest.skip(reason)
    was_running = subprocess.run([str(CLUSTER), "status"], capture_output=True).returncode == 0
    started = subprocess.run([str(CLUSTER), "start"], capture_output=True, text=True, timeout=180)
    if started.returncode in CANNOT_RUN and os.environ.get("CI") != "true":
        pytest.skip(f"SLURM test cluster: {CANNOT_RUN[started.returncode]}: {started.stderr.strip()}")
    if started.returncode != 0:
        pytest.fail(f"tests/slurm/cluster.sh start failed:\n{started.stdout}\n{started.stderr}")
    exports = subprocess.run([str(CLUSTER), "env"], capture_output=True, text=True, check=True).stdout
    # A run started inside a SLURM job would make the plugin warn and wait: hand on no job context.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(kv.split("=", 1) for kv in exports.split()[1:])  # export SLURM_CONF=... SDT_SLURM_DIR=...
    env["PYTHONUNBUFFERED"] = "1"
    yield env
    if not was_running:
        subprocess.run([str(CLUSTER), "stop"], capture_output=True, timeout=120)


def start_snakemake(args, cwd, env, timeout):
    """Start snakemake with the SLURM profiles in ``cwd``; :func:`finish` waits for it.  Output goes to a new file
    snakemake-*.out in ``cwd`` (a run left in the background never blocks on a full pipe)."""
    cmd = [sys.executable, "-m", "snakemake", *PROFILE_ARGS, *map(str, args)]
    out = tempfile.NamedTemporaryFile("w+", dir=cwd, prefix="snakemake-", suffix=".out", delete=False)  # kept
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    proc.out, proc.deadline, proc.env = out, time.monotonic() + timeout, env
    return proc


def finish(proc):
    """(exit status, output) of a run from :func:`start_snakemake`.  A run past its time limit is killed with its
    children, its SLURM jobs are cancelled and the test fails."""
    try:
        proc.wait(timeout=max(proc.deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):  # SIGTERM alone does not end a plugin that lost a job
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
                break
    proc.out.seek(0)
    out = proc.out.read()
    proc.out.close()
    if proc.returncode is None or proc.returncode < 0:  # killed by us
        for run_id in RUN_ID.findall(out):  # every job of the run is named after its run ID
            subprocess.run(["scancel", "--full", "--quiet", f"--name={run_id}"], env=proc.env, timeout=30)
        pytest.fail(f"snakemake ran over its time limit: {' '.join(proc.args)}\n{out}")
    return proc.returncode, out


def run_snakemake(args, cwd, env, timeout):
    return finish(start_snakemake(args, cwd, env, timeout))


def submitted(out):
    """{rule: [SLURM job ids]} of the jobs the run submitted with sbatch."""
    jobs = {}
    for job_id, rule in SUBMITTED.findall(out):
        jobs.setdefault(rule, []).append(job_id)
    return jobs


def scontrol_job(job_id, env):
    """`scontrol show job -d` of a job as a dict (slurmctld keeps finished jobs for MinJobAge = 300 s)."""
    text = subprocess.run(["scontrol", "show", "job", "-d", "-o", job_id], env=env, capture_output=True,
                          text=True, check=True, timeout=30).stdout  # fmt: skip
    info = {}
    for key, value in re.findall(r"(?:^|\s)([A-Za-z_/:]+)=(\S*)", text):
        info.setdefault(key, value)
    return info


def task_gpus(job_id, env):
    """What the cluster's TaskProlog recorded for each task of a job: [{step, CUDA_VISIBLE_DEVICES, ...}]."""
    log = os.path.join(env["SDT_SLURM_DIR"], "log", "tasks.log")
    with open(log) as f:
        rows = [dict(kv.split("=", 1) for kv in line.split()) for line in f]
    return [r for r in rows if r["job"] == job_id]


def slurm_log(workdir, rule, job_id):
    """The plugin's log of one job: .snakemake/slurm_logs/rule_<rule>/[<wildcards>/]<SLURM job id>.log"""
    (path,) = (workdir / ".snakemake" / "slurm_logs" / f"rule_{rule}").rglob(f"{job_id}.log")
    return path.read_text()


@pytest.fixture(scope="module")
def failing_run(slurm_env, tmp_path_factory):
    """A run of tests/slurm/fail.smk, started at once and left in the background: (exit status, output, workdir)
    when asked for."""
    work = tmp_path_factory.mktemp("fail")
    proc = start_snakemake(["-s", REPO / "tests/slurm/fail.smk"], work, slurm_env, timeout=240)
    yield lambda: (*finish(proc), work)
    if proc.poll() is None:  # never asked for (test deselected): leave nothing running
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_workflow_through_slurm(slurm_env, tmp_path, failing_run):
    """The sample speaker's statistics, QC table and pose VAE (a gpu=2 rule: 2 training processes) as SLURM jobs.
    (``failing_run`` starts now: the cluster is idle while this test builds the dataset locally.)"""
    (tmp_path / "workflow").mkdir()
    snakefile = copy_workflow(tmp_path / "workflow")  # code inputs that no edit of the repo touches meanwhile
    work = make_workdir(tmp_path / "work", TINY_CONFIG)
    snakemake(work, LOCAL_TARGET, snakefile=snakefile, timeout=600)
    rc, out = run_snakemake(["-s", snakefile, *SLURM_TARGETS], work, slurm_env, timeout=300)
    assert rc == 0, out

    # Each remaining rule ran once, as a SLURM job of this run, in this working directory.
    jobs = submitted(out)
    assert set(jobs) == SLURM_RULES and all(len(ids) == 1 for ids in jobs.values()), out
    (run_id,) = RUN_ID.findall(out)
    for rule, (job_id,) in jobs.items():
        info = scontrol_job(job_id, slurm_env)
        assert (info["JobState"], info["ExitCode"], info["JobName"]) == ("COMPLETED", "0:0", run_id), (rule, info)
        assert (info["WorkDir"], info["Partition"]) == (str(work), "debug"), (rule, info)
        assert f"rule {rule}:" in slurm_log(work, rule, job_id)  # the job step ran that rule
        tasks = task_gpus(job_id, slurm_env)
        assert {t["step"] for t in tasks} >= {"", "0"}, (rule, tasks)  # the batch script and its srun step
        if rule == "train_pose_vae":
            # Asked for (sbatch --gpus=2), given (the node's fake GPUs), seen by the rule (CUDA_VISIBLE_DEVICES).
            assert info["TresPerJob"] == "gres:gpu:2" and info["JOB_GRES"] == "gpu:fake:2", info
            assert all(t["CUDA_VISIBLE_DEVICES"] == "0,1" for t in tasks), tasks
            assert [t["SLURM_JOB_GPUS"] for t in tasks if t["step"] == ""] == ["0,1"], tasks  # the batch script
            # tests/slurm/profile's set-resources override the rule's mem_mb=8000, runtime=240, threads 2
            assert info["TimeLimit"] == "00:10:00" and "mem=2000M" in info["TRES"].split(","), info
            assert info["CPUs/Task"] == "1", info
        else:
            assert "gpu" not in info.get("TresPerJob", "") and info["JOB_GRES"] == "(null)", (rule, info)
            assert all(t["CUDA_VISIBLE_DEVICES"] == "unset" for t in tasks), (rule, tasks)

    # The outputs of the SLURM jobs.
    data = work / "results" / "sample"
    index = pd.read_csv(data / "dataset" / "clips.csv")
    assert (index["dataset"].value_counts() > 0).all() and set(index["dataset"]) == {"train", "idle", "dev"}, index
    with np.load(data / "clips" / "sample00.npz") as clips:
        assert len(index) == len(clips["poses"])  # every clip of the video is in exactly one split
    for split, rows in index.groupby("dataset"):
        poses = np.load(data / "dataset" / f"{split}_poses.npy", mmap_mode="r")
        assert poses.shape == (len(rows), 64, 3, 137) and poses.dtype == np.float32, split
    with np.load(data / "stats.npz") as stats:
        for key in ("mean_parted", "std_parted", "mean_global", "std_global"):
            assert stats[key].shape == (2, 121) and np.isfinite(stats[key]).all(), key
        assert int(stats["n_train_clips"]) == (index["dataset"] == "train").sum()
    qc = pd.read_csv(data / "qc.csv").set_index("video")
    assert qc.loc["sample00", ["train", "idle", "dev"]].to_dict() == index["dataset"].value_counts().to_dict(), qc
    config = yaml.safe_load((work / "config" / "config.yaml").read_text())
    epochs = config["train_presets"]["tiny"]["epochs"]
    assert len(pd.read_csv(data / "train" / "pose_vae" / "history.csv")) == epochs
    # ... on two processes: torchrun's workers wrote to the rule's log, rank 0 at INFO, and their job file
    log = (work / "logs" / "train_pose_vae" / "sample" / "pose_vae.log").read_text()
    assert "training on 2 process(es) x 1 node(s)" in log and "x 2 processes, device cpu" in log, log
    assert " rank 0 INFO epoch 2 (" in log and (data / "train" / "pose_vae" / "job.json").exists(), log

    # The trained model loads and encodes the dev clips (final results: neck-relative px x scale_factor).
    from sdt.inference import load_pose_encoder  # torch: imported only where needed
    from sdt.poses import load_stats, to_121

    encoder = load_pose_encoder(data / "models" / "pose_vae.pt", "cpu")
    dev = np.load(data / "dataset" / "dev_poses.npy")
    mu, logvar = encoder.encode_final(to_121(dev) * load_stats(data / "stats.npz")["scale_factor"])
    assert mu.shape == logvar.shape == (len(dev), config["train"]["template_dim"]) and mu.isfinite().all()

    # Everything is up to date: a second run submits nothing.
    rc, out = run_snakemake(["-s", snakefile, *SLURM_TARGETS], work, slurm_env, timeout=120)
    assert rc == 0 and not submitted(out) and "Nothing to be done" in out, out


def test_failing_job_fails_the_run(slurm_env, failing_run):
    """A job that fails inside SLURM makes snakemake exit non-zero (and does not hang it)."""
    rc, out, work = failing_run()
    assert rc != 0, out
    assert "Error in rule fail" in out, out
    ((job_id,),) = submitted(out).values()
    assert scontrol_job(job_id, slurm_env)["JobState"] == "FAILED"
    assert (work / "logs/fail.log").read_text() == f"failing on purpose in SLURM job {job_id}\n"
    assert not (work / "never.txt").exists()
    assert "exit status 3" in slurm_log(work, "fail", job_id)  # kept: the job failed
