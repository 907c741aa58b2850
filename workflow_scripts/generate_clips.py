"""Rule generate_clips: rescaled keypoints + outlier mask + the video's audio -> clips npz (sdt.dataset.generate_clips).

Windows of clip_frames frames every clip_stride frames after skip_frames; a window with an outlier frame or not
fully covered by the audio is dropped.  The log says how many windows were dropped, why and where; a video too
short for one clip gives 0 clips and a warning.
"""

from sdt.dataset.generate_clips import generate_clips
from sdt.step import logged

with logged(snakemake.log[0]):
    generate_clips(
        snakemake.input.rescaled,
        snakemake.input.outliers,
        snakemake.input.video,
        snakemake.output.clips,
        fps=snakemake.params.fps,
        clip_frames=snakemake.params.clip_frames,
        clip_stride=snakemake.params.clip_stride,
        skip_frames=snakemake.params.skip_frames,
        audio_rate=snakemake.params.audio_rate,
        last_window=snakemake.params.last_window,
        av_sync=snakemake.params.av_sync,
    )
