"""Rule extract_frames: every frame of the fps-converted video as JPEG + meta.json (sdt.media).

The folder is built under a temporary name and renamed when complete (sdt.io.atomic_dir), so detect_keypoints
never sees a half-extracted folder.
"""

from sdt.dataset.extract_frames import extract_frames
from sdt.step import logged

with logged(snakemake.log[0]):
    extract_frames(snakemake.input.video, snakemake.output.frames, threads=snakemake.threads,
                   frame_height=snakemake.params.frame_height)
