"""Rule plot_training: training and validation curves of every model of a speaker, from their history.csv
files (sdt.demo.plot_training) -> one PNG."""

from sdt.demo.plot_training import plot_training
from sdt.step import logged

with logged(snakemake.log[0]):
    plot_training(dict(zip(snakemake.params.methods, snakemake.input.histories, strict=True)), snakemake.output.plot)
