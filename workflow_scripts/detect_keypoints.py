"""Rule detect_keypoints: 137 keypoints on every extracted frame -> keypoints npz (sdt.dataset.detect_keypoints).

The log records the detection speed and how many frames had a complete person (body, face, both hands).
"""

from sdt.dataset.detect_keypoints import detect_keypoints
from sdt.step import logged

with logged(snakemake.log[0]):
    detect_keypoints(
        snakemake.input.frames,
        snakemake.output.keypoints,
        detector=snakemake.params.detector,
        fps=snakemake.params.fps,
        redetect=snakemake.params.redetect,
    )
