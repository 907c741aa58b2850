"""Rules train_pose_vae, train_generator, train_audio2body, train_moglow: train one speaker's model of one method
(sdt.train.train.train; the method's definition, sdt.methods.Method, comes in the rule's params) on as many
processes as the rule's gpu resource says (train.gpus; sdt.train.launch.run_job: torchrun), or on as many nodes as
its nodes resource says with gpus_per_node processes each (SLURM; profiles/slurm).

Resumes an interrupted run from results/{speaker}/train/{method}/checkpoints/last.pt.
"""

from pathlib import Path

from sdt.step import logged
from sdt.train.config import TrainSettings
from sdt.train.launch import run_job

with logged(snakemake.log[0]):
    # speed-only settings come as resources, so that changing them reruns nothing (sdt.train.config)
    settings = TrainSettings.from_job(snakemake.params.settings, snakemake.resources)
    job = {
        "method": dict(snakemake.params.method),
        "data": {k: snakemake.input[k] for k in ("train_poses", "train_audio", "dev_poses", "dev_audio", "stats")},
        "model_out": snakemake.output.model,
        "history_out": snakemake.output.history,
        "run_dir": str(Path(snakemake.output.history).parent),
        "settings": settings,
        **{k: snakemake.input.get(k) for k in ("pose_vae", "ftd_vae", "init_from")},
        "code": snakemake.params.code,
        "threads": snakemake.threads,
    }
    # several nodes (profiles/slurm's example): gpus_per_node processes on each, else gpu processes on this machine
    nodes = snakemake.resources.get("nodes", 1)
    processes = snakemake.resources.get("gpus_per_node", 0) if nodes > 1 else snakemake.resources.get("gpu", 1)
    run_job(job, processes=processes, nodes=nodes, log_path=snakemake.log[0])
