"""Rule paper_tables: every evaluation JSON and the paper's published numbers -> the paper's Tables 1-3 beside them
(results/tables/paper_tables.csv, .md, .html) and every evaluation (results/tables/evaluations.csv, .md)
(sdt.evaluate.paper_tables)."""

from sdt.evaluate.paper_tables import write_paper_tables
from sdt.step import logged

with logged(snakemake.log[0]) as log:
    out = {k: snakemake.output[k] for k in ("csv", "md", "html", "evaluations_csv", "evaluations_md")}
    cells, frame = write_paper_tables(snakemake.input.evaluations, snakemake.input.published, out,
                                      snakemake.params.labels)
    log.info("%d evaluations:\n%s", len(frame), frame.to_string(index=False))
    log.info("Tables 1-3: %d cells, %d run", len(cells), (cells["status"] == "run").sum())
