"""Rule change_fps: re-encode a source video to constant dataset.fps with its audio kept (sdt.media).

Bad input (unreadable file, no audio track, silent audio) stops the rule with an error naming the file; a
variable-frame-rate video is converted with a warning in the log.
"""

import logging

from sdt.dataset.change_fps import change_fps

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

change_fps(snakemake.input.video, snakemake.output.video, snakemake.params.fps, threads=snakemake.threads)
