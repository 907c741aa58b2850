"""Rule cut_interval: one row of a speaker's interval table cut from its long source video
(sdt.dataset.cut_interval).

An interval that does not fit its video stops the rule with an error naming the table's row.
"""

import os

from sdt.dataset.cut_interval import cut_interval
from sdt.step import logged

with logged(snakemake.log[0]):
    # the source is read through its link in results/<speaker>/source/: errors name the user's file
    cut_interval(os.path.realpath(snakemake.input.video), snakemake.output.video, snakemake.params.start,
                 snakemake.params.end, row=snakemake.params.row)
