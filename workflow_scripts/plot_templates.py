"""Rule plot_templates: 2-D PCA projection of the learned templates of SDT-BP (its trained table) and SDT-VAE
(the pose VAE's clip means), ours or the authors' checkpoints, coloured by source video (sdt.demo.plot_templates)
-> one PNG."""

import logging

from sdt.demo.plot_templates import plot_model_templates

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

plot_model_templates(
    {"SDT-BP": snakemake.input.sdt_bp, "SDT-VAE": snakemake.input.sdt_vae},
    snakemake.output.plot,
    index_csv=snakemake.input.index,
    pose_vae=snakemake.input.get("pose_vae"),
)
