"""Rule render_clips: prediction next to ground truth on a few dev clips, with their speech
(sdt.demo.render_clips) -> one video."""

from sdt.demo.render_clips import render_clips
from sdt.step import logged

with logged(snakemake.log[0]):
    render_clips(
        snakemake.input.model,
        snakemake.input.stats,
        snakemake.input.dev_poses,
        snakemake.input.dev_audio,
        snakemake.output.video,
        index_csv=snakemake.input.index,
        n_clips=snakemake.params.clips,
        seed=snakemake.params.seed,
        temperature=snakemake.params.temperature,
        threads=snakemake.threads,
        pose_vae=snakemake.input.get("pose_vae"),
    )
