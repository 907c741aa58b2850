"""Rule detect_keypoints: 137 keypoints on every extracted frame -> keypoints npz (sdt.detect).

The log records the detection speed and how many frames had a complete person (body, face, both hands).
"""

import logging

from sdt.detect import detect_keypoints

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

detect_keypoints(
    snakemake.input.frames,
    snakemake.output.keypoints,
    detector=snakemake.params.detector,
    fps=snakemake.params.fps,
)
