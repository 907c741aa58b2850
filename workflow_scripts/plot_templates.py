"""Rule plot_templates: 2-D PCA projection of the clip-wise template tables of the evaluated methods (SDT-BP's trained
table, SDT-VAE's pose VAE clip means), ours or the authors' checkpoints, coloured by source video
(sdt.demo.plot_templates) -> one PNG."""

from sdt.demo.plot_templates import plot_model_templates
from sdt.step import logged

with logged(snakemake.log[0]):
    plot_model_templates(
        {label: snakemake.input[method] for method, label in snakemake.params.labels.items()},
        snakemake.output.plot,
        index_csv=snakemake.input.index,
        pose_vae=snakemake.input.get("pose_vae"),
    )
