"""Rule sample_qc: does the sample speaker gesture, as MediaPipe detects it?  Per video the complete-person rate,
wrist movement, mouth-speech correlation and template recognisability -> a csv, and a figure of one frame per
gesture template with its detected skeleton (sdt.dataset.sample_qc)."""

from sdt.dataset.sample_qc import sample_qc
from sdt.step import logged

with logged(snakemake.log[0]):
    sample_qc(
        snakemake.input.keypoints,
        snakemake.input.videos,
        snakemake.input.labels,
        snakemake.output.table,
        snakemake.output.figure,
        fps=snakemake.params.fps,
    )
