"""Rule sample_qc: does the sample speaker gesture, as MediaPipe detects it?  Per video the complete-person rate,
wrist movement, mouth-speech correlation and template recognisability -> a csv, and a figure of one frame per
gesture template with its detected skeleton (sdt.dataset.sample_qc)."""

import logging

from sdt.dataset.sample_qc import sample_qc

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

sample_qc(
    snakemake.input.keypoints,
    snakemake.input.videos,
    snakemake.input.labels,
    snakemake.output.table,
    snakemake.output.figure,
    fps=snakemake.params.fps,
)
