"""Rule extract_frames: every frame of the fps-converted video as JPEG + meta.json (sdt.media).

The folder is built under a temporary name and renamed when complete (sdt.io.atomic_dir), so detect_keypoints
never sees a half-extracted folder.
"""

import logging

from sdt.dataset.extract_frames import extract_frames

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

extract_frames(snakemake.input.video, snakemake.output.frames, threads=snakemake.threads)
