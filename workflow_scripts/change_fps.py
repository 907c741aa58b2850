"""Rule change_fps: re-encode a source video to constant dataset.fps with its audio kept (sdt.media).

Bad input (unreadable file, no audio track, silent audio) stops the rule with an error naming the file; a
variable-frame-rate video is converted with a warning in the log.
"""

import os

from sdt.dataset.change_fps import change_fps
from sdt.step import logged

with logged(snakemake.log[0]):
    # a user's video is read through its link in results/<speaker>/source/: errors name the user's file
    change_fps(os.path.realpath(snakemake.input.video), snakemake.output.video, snakemake.params.fps,
               threads=snakemake.threads)
