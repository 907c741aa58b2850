"""Rule rescale_shoulders: keypoints + outliers -> rescaled npz (x, y scaled to the reference shoulder width).

The factor is reference_px / mean shoulder width (points 2-5) over kept frames; 1.0 when disabled or when no
frame is kept (then the video gives no clips, which qc.csv reports).  The log gives the width and the factor.
per="shot": one factor per shot between cuts.
"""

from sdt.dataset.rescale_shoulders import rescale_shoulders
from sdt.step import logged

with logged(snakemake.log[0]):
    rescale_shoulders(
        snakemake.input.keypoints,
        snakemake.input.outliers,
        snakemake.output.rescaled,
        enabled=snakemake.params.enabled,
        reference_px=snakemake.params.reference_px,
        per=snakemake.params.per,
    )
