"""Rule make_sample_video: one video of the bundled sample speaker (sdt.dataset.make_sample_video).

The photo's person, cut into layers and re-posed: gesture-template phrases whose strokes follow the loudness of
espeak-ng speech, the jaw opening with it; 1280x720, 25 fps, H.264 + AAC, plus the per-frame template labels.
Deterministic in (seed, the number at the end of {video}), so sample00 and sample01 differ.
"""

from sdt.dataset.make_sample_video import make_sample_video, video_index
from sdt.step import logged

with logged(snakemake.log[0]):
    make_sample_video(
        snakemake.input.photo,
        snakemake.output.video,
        seconds=snakemake.params.seconds,
        seed=snakemake.params.seed,
        index=video_index(snakemake.wildcards.video),
        threads=snakemake.threads,
        labels=snakemake.output.templates,
        phrase_seconds=tuple(snakemake.params.phrase_seconds),
    )
