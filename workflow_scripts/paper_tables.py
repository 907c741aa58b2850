"""Rule paper_tables: every evaluation JSON -> results/tables/paper_table.csv and .md (sdt.evaluate.paper_tables)."""

import logging

from sdt.evaluate.paper_tables import write_paper_tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

frame = write_paper_tables(snakemake.input.evaluations, snakemake.output.csv, snakemake.output.md)
logging.info("%d rows:\n%s", len(frame), frame.to_string(index=False))
