"""Rule split_dataset: per-video clip files -> train/idle/dev poses and audio arrays + clips.csv
(sdt.dataset.split_dataset).

The log records each video's clip counts per split and warns about videos that gave no clips.
"""

import logging

from sdt.dataset.split_dataset import split_dataset

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

split_dataset(
    snakemake.input.clips,
    {k: v for k, v in snakemake.output.items() if k != "index"},  # {split}_poses, {split}_audio
    snakemake.output.index,
    train_fraction=snakemake.params.train_fraction,
    idle_clips=snakemake.params.idle_clips,
    speaker=snakemake.wildcards.speaker,
)
