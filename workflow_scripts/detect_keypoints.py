"""Rule detect_keypoints: 137 keypoints on every extracted frame -> keypoints npz (sdt.dataset.detect_keypoints).

The log records the detection speed and how many frames had a complete person (body, face, both hands).
"""

import logging

from sdt.dataset.detect_keypoints import detect_keypoints

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

detect_keypoints(
    snakemake.input.frames,
    snakemake.output.keypoints,
    detector=snakemake.params.detector,
    fps=snakemake.params.fps,
    redetect=snakemake.params.redetect,
)
