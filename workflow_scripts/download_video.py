"""Rule download_video: one link of a speaker's link list downloaded with yt-dlp, with its record (the link, the
file's SHA-256 and size) beside it (sdt.dataset.download_video).

A link that fails stops this job with an error naming the link; under --keep-going the other links' jobs go on.
"""

from sdt.dataset.download_video import download_video
from sdt.step import logged

with logged(snakemake.log[0]):
    download_video(snakemake.params.url, snakemake.output.video, snakemake.output.record)
