"""Rule pack_released: the authors' released speaker folder (processed_137.csv + clip npz files), read as it is,
-> the same train/idle/dev arrays + clips.csv as split_dataset writes (sdt.dataset.pack_released).

Released `dev` and `val` clips both go to dev; `idle` clips are kept out of training.  Clip files that cannot be
read are skipped and listed in the log.
"""

from sdt.dataset.pack_released import pack_released
from sdt.step import logged

with logged(snakemake.log[0]):
    pack_released(
        snakemake.input.index,
        {k: v for k, v in snakemake.output.items() if k != "index"},  # {split}_poses, {split}_audio
        snakemake.output.index,
        clip_frames=snakemake.params.clip_frames,
        audio_rate=snakemake.params.audio_rate,
        fps=snakemake.params.fps,
    )
