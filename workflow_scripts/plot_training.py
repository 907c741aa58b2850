"""Rule plot_training: training and validation curves of every model of a speaker, from their history.csv
files (sdt.demo.plot_training) -> one PNG."""

import logging

from sdt.demo.plot_training import plot_training

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

plot_training(dict(zip(snakemake.params.methods, snakemake.input.histories, strict=True)), snakemake.output.plot)
