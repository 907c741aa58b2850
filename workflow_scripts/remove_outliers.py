"""Rule remove_outliers: keypoints npz -> outliers npz (keep [T], reason [T] per frame; sdt.dataset.remove_outliers).

A frame is dropped when it has no complete person (reason no_person) or any kept point is undetected, at
x <= outlier_px and y <= outlier_px (reason undetected_point), or it follows a cut: a jump of the neck/shoulders
no body makes in one frame, or a jump of the picture (reason cut).  The log gives the counts per reason.
"""

from sdt.dataset.remove_outliers import remove_outliers
from sdt.step import logged

with logged(snakemake.log[0]):
    remove_outliers(
        snakemake.input.keypoints,
        snakemake.output.outliers,
        outlier_px=snakemake.params.outlier_px,
        cut_jump=snakemake.params.cut_jump,
        cut_zoom=snakemake.params.cut_zoom,
        cut_picture=snakemake.params.cut_picture,
    )
