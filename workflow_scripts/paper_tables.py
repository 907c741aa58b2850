"""Rule paper_tables: every evaluation JSON and the paper's published numbers -> the paper's Tables 1-3 beside them
(results/tables/paper_tables.csv, .md, .html) and every evaluation (results/tables/evaluations.csv, .md)
(sdt.evaluate.paper_tables)."""

import logging

from sdt.evaluate.paper_tables import write_paper_tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

out = {k: snakemake.output[k] for k in ("csv", "md", "html", "evaluations_csv", "evaluations_md")}
cells, frame = write_paper_tables(snakemake.input.evaluations, snakemake.input.published, out, snakemake.params.labels)
logging.info("%d evaluations:\n%s", len(frame), frame.to_string(index=False))
logging.info("Tables 1-3: %d cells, %d run", len(cells), (cells["status"] == "run").sum())
