"""Rule qc_table: one row per video (frames in, complete person, outliers by reason, windows, clips, dropped
windows by reason, clips per split) and a TOTAL row -> qc.csv (sdt.dataset.qc_table).
"""

from sdt.dataset.qc_table import qc_table
from sdt.step import logged

with logged(snakemake.log[0]):
    qc_table(
        snakemake.input.keypoints,
        snakemake.input.outliers,
        snakemake.input.clips,
        snakemake.input.index,
        snakemake.output.table,
    )
