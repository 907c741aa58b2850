"""Starting one training job on one process or several (docs/networks.md §5: one process per GPU), as the training step
script does (workflow_scripts/train.py).

  one process         sdt.train.train.train in this process
  N processes, 1 node ``torchrun --standalone --nproc-per-node N`` (a free port on this machine): N GPUs with
                      NCCL, or N CPU processes with gloo where torch sees no CUDA (tests, fake-GPU clusters)
  M nodes (SLURM)     ``srun`` one launcher per node of the job's allocation, each ``torchrun --nnodes M
                      --nproc-per-node <its GPUs>`` with the c10d rendezvous on the allocation's first node (its
                      port from the job id): everything from SLURM's environment (docs/training.md §7)

The job (train()'s arguments) goes to ``<run_dir>/job.json``; every process appends to the rule's log (rank 0
at INFO, the others warnings and errors, with their rank).  The launcher dies with the step (Linux's
PR_SET_PDEATHSIG), and each worker with its launcher, so a killed job leaves no process behind.
"""

import ctypes
import json
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)
RDZV_PORT, RDZV_PORTS = 20000, 20000  # c10d rendezvous port of a multi-node job: 20000 + (job id mod 20000)


def die_with_parent(sig=signal.SIGTERM):
    """Ask Linux to send ``sig`` to this process when its parent ends (no-op elsewhere)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig))
    except (OSError, AttributeError):
        pass


def torchrun(nproc, job_file, nodes=1, rdzv=None):
    """The torchrun command line of this node: ``nproc`` workers running this module on ``job_file``."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}"]
    if nodes > 1:
        cmd += [f"--nnodes={nodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv['endpoint']}",
                f"--rdzv-id={rdzv['id']}"]
    else:
        cmd += ["--standalone"]
    return [*cmd, "-m", "sdt.train.launch", "worker", str(job_file)]


def first_host(nodelist):
    """The first host of a SLURM node list ("gpu[07-08,12],cpu3" -> "gpu07"): every node's launcher picks the same
    one as the rendezvous host."""
    depth, end = 0, len(nodelist)
    for i, c in enumerate(nodelist):
        depth += {"[": 1, "]": -1}.get(c, 0)
        if c == "," and depth == 0:
            end = i
            break
    return re.sub(r"\[([^\]]*)\]", lambda m: re.split(r"[-,]", m.group(1))[0], nodelist[:end])


def slurm_rendezvous(env=os.environ):
    """(nodes, rendezvous endpoint and id) of the SLURM job step this process is a task of: the step's node count
    and node list, a port from the job id (two jobs sharing a first node do not collide)."""
    job = int(env["SLURM_JOB_ID"])
    host = first_host(env.get("SLURM_STEP_NODELIST") or env["SLURM_JOB_NODELIST"])
    return int(env["SLURM_NNODES"]), {"endpoint": f"{host}:{RDZV_PORT + job % RDZV_PORTS}", "id": f"sdt-{job}"}


def srun_nodes(job_file, nodes, per_node, threads):
    """The step's srun over the allocation's ``nodes`` nodes: one launcher per node with ``threads`` CPUs and
    ``per_node`` GPUs (0: as SLURM's default gives them), each running :func:`_node`."""
    gpus = [f"--gpus-per-node={per_node}"] if per_node > 0 else []
    return ["srun", f"--nodes={nodes}", f"--ntasks={nodes}", "--ntasks-per-node=1", f"--cpus-per-task={threads}",
            *gpus, sys.executable, "-m", "sdt.train.launch", "node", str(job_file), str(per_node)]


def processes_per_node(requested):
    """Workers on this node: its GPUs when CUDA is there (at most ``requested`` when given), else ``requested``."""
    import torch

    if not torch.cuda.is_available():
        return max(1, requested)
    have = torch.cuda.device_count()
    if requested > have:
        raise RuntimeError(f"{requested} training processes were asked for (train.gpus / the rule's gpu resource) "
                           f"but this node has {have} GPU(s)")
    return requested or have


def run_job(job, processes=1, nodes=1, log_path=None):
    """Train ``job`` (sdt.train.train.train's keyword arguments) on ``processes`` processes per node of ``nodes``
    nodes (several nodes: inside a SLURM allocation; ``processes`` 0 = every GPU of each node).  Raises when any
    process fails (its error is in the log)."""
    if processes <= 1 and nodes <= 1:
        from sdt.train.train import train

        return train(**job)
    from sdt.io import write_text
    from sdt.train.config import TrainSettings

    settings = TrainSettings.of(job["settings"])
    batch, world = settings.batch_size, processes * nodes
    if world and batch % world:  # said here, before any process starts (the sampler says it again)
        raise ValueError(f"train.batch_size {batch} cannot be split evenly over {world} processes ({nodes} node(s) "
                         f"x {processes}): make it a multiple of {world} (each process takes batch_size / {world})")
    job_file = Path(job["run_dir"]) / "job.json"
    threads = job.get("threads") or os.cpu_count()  # of this node: its workers share them (_worker)
    write_text(job_file, json.dumps({**job, "settings": settings.as_dict(), "threads": threads, "progress": False,
                                     "log": None if log_path is None else str(log_path)}, default=list))
    if nodes > 1:
        cmd = srun_nodes(job_file, nodes, processes, threads)
    else:
        cmd = torchrun(processes_per_node(processes), job_file)
    logging.getLogger(__name__).info("training on %d process(es) x %d node(s): %s", processes, nodes, " ".join(cmd))
    with open(log_path or os.devnull, "a") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent).returncode
    if rc != 0:
        raise RuntimeError(f"distributed training failed (exit status {rc}); see {log_path or 'the processes output'}")
    return None


def _worker(job_file):
    """One process of a distributed run (started by torchrun)."""
    die_with_parent(signal.SIGKILL)
    job = json.loads(Path(job_file).read_text())
    job["threads"] = max(1, job["threads"] // int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
    log_path, rank = job.pop("log"), int(os.environ.get("RANK", 0))
    logging.basicConfig(filename=log_path, level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"%(asctime)s rank {rank} %(levelname)s %(message)s")
    from sdt.train.train import train

    train(**job)


def _node(job_file, requested):
    """The launcher of one node of a multi-node SLURM job (started by srun): torchrun with SLURM's rendezvous."""
    nodes, rdzv = slurm_rendezvous()
    cmd = torchrun(processes_per_node(int(requested)), job_file, nodes, rdzv)
    sys.exit(subprocess.run(cmd, preexec_fn=die_with_parent).returncode)


if __name__ == "__main__":
    {"worker": lambda a: _worker(a[0]), "node": lambda a: _node(a[0], a[1])}[sys.argv[1]](sys.argv[2:])
