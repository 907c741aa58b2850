"""Rule compute_stats: mean/std of the train poses (both representations) and the speaker's scale_factor
(sdt.dataset.compute_stats, docs/dataset.md §13) -> stats.npz.

For a released speaker the scale_factor is the release's own, looked up by the speaker's name (the name in
clips.csv when the rule gives it as input `index`, else the {speaker} wildcard) in the release's statistics
(input `release_stats`); with `stats: release` (the default for a released speaker those tables cover) the mean and
std are the release's too.
"""

from sdt.dataset.compute_stats import compute_stats
from sdt.step import logged

with logged(snakemake.log[0]):
    compute_stats(
        snakemake.input.train_poses,
        snakemake.output.stats,
        scale_rule=snakemake.params.scale_rule,
        reference_px=snakemake.params.reference_px,
        speaker=snakemake.wildcards.speaker,
        index=snakemake.input.get("index"),
        stats=snakemake.params.stats,
        release_json=snakemake.input.release_stats,
    )
