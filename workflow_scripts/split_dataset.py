"""Rule split_dataset: per-video clip files -> train/idle/dev poses and audio arrays + clips.csv
(sdt.dataset.split_dataset).

The log records each video's clip counts per split and warns about videos that gave no clips.
"""

from sdt.dataset.split_dataset import split_dataset
from sdt.step import logged

with logged(snakemake.log[0]):
    split_dataset(
        snakemake.input.clips,
        {k: v for k, v in snakemake.output.items() if k != "index"},  # {split}_poses, {split}_audio
        snakemake.output.index,
        train_fraction=snakemake.params.train_fraction,
        idle_clips=snakemake.params.idle_clips,
        speaker=snakemake.wildcards.speaker,
        splits=snakemake.params.splits,  # an interval table's dataset column, else {}
    )
