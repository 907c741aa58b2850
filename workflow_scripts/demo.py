"""Rule demo: a trained model driven by any speech file -> a skeleton video with the speech, and a strip image
(sdt.demo.demo.run_demo).  Modes: grid (K templates side by side), template (one), morph (one to another).

The log records the audio length, the number of 64-frame windows and the template rows used.
"""

from sdt.demo.demo import run_demo
from sdt.step import logged

with logged(snakemake.log[0]):
    run_demo(
        snakemake.input.model,
        snakemake.input.stats,
        snakemake.input.audio,
        snakemake.output.video,
        snakemake.output.strip,
        mode=snakemake.params.mode,
        indices=snakemake.params.templates,
        count=snakemake.params.grid,
        seed=snakemake.params.seed,
        strip_frames=snakemake.params.strip_frames,
        temperature=snakemake.params.temperature,
        threads=snakemake.threads,
        pose_vae=snakemake.input.get("pose_vae"),
        index_csv=snakemake.input.index,
    )
