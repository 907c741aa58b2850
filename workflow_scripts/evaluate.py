"""Rule evaluate: one method (a trained or released model of any family, or a reference row) on a speaker's dev
clips -> results/{speaker}/evaluation/{method}.json (sdt.evaluate.evaluate.evaluate).

The log records the checkpoints used, the device, the speed (and how long the GPU waited for data) and the metrics.
"""

from sdt.evaluate.evaluate import evaluate
from sdt.step import logged

with logged(snakemake.log[0]):
    evaluate(
        snakemake.wildcards.speaker,
        snakemake.params.method,
        dev_poses=snakemake.input.dev_poses,
        stats_path=snakemake.input.stats,
        pose_vae=snakemake.input.pose_vae,
        output=snakemake.output.metrics,
        dev_audio=snakemake.input.dev_audio,
        model_path=snakemake.input.get("model"),
        index_csv=snakemake.input.get("index"),
        settings=snakemake.params.settings,
        threads=snakemake.threads,
    )
