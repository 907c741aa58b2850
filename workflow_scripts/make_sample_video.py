"""Rule make_sample_video: one video of the bundled sample speaker (sdt.dataset.make_sample_video).

The photo seen by a virtual camera that pans, zooms and rolls with the loudness of espeak-ng speech; 1280x720,
25 fps, H.264 + AAC.  Deterministic in (seed, the number at the end of {video}), so sample00 and sample01 differ.
"""

import logging

from sdt.dataset.make_sample_video import make_sample_video, video_index

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

make_sample_video(
    snakemake.input.photo,
    snakemake.output.video,
    seconds=snakemake.params.seconds,
    seed=snakemake.params.seed,
    index=video_index(snakemake.wildcards.video),
    threads=snakemake.threads,
)
