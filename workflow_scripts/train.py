"""Rules train_pose_vae, train_sdt_bp, train_sdt_vae, train_s2g: train one speaker's model (sdt.train.train.train).

Resumes from results/{speaker}/train/{method}/checkpoints/last.pt when that checkpoint belongs to the same run.
"""

import logging
from pathlib import Path

from sdt.train.config import TrainSettings
from sdt.train.train import train

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

settings = dict(snakemake.params.settings)
method = settings.pop("method")
# speed-only settings come as resources, so that changing them reruns nothing (rules/common.smk: SPEED_ONLY)
settings.update(num_workers=snakemake.resources.num_workers, checkpoint_every=snakemake.resources.checkpoint_every)
data = {k: snakemake.input[k] for k in ("train_poses", "train_audio", "dev_poses", "dev_audio", "stats")}
train(
    method,
    data,
    model_out=snakemake.output.model,
    history_out=snakemake.output.history,
    run_dir=Path(snakemake.output.history).parent,
    settings=TrainSettings.of(settings),
    pose_vae=snakemake.input.get("pose_vae"),
    threads=snakemake.threads,
)
