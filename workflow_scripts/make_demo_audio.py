"""Rule make_demo_audio: deterministic espeak-ng speech for the demo when config demo.audio is empty
(sdt.demo.make_demo_audio): sentences that the sample videos never say, 16 kHz mono wav."""

from sdt.demo.make_demo_audio import make_demo_audio
from sdt.step import logged

with logged(snakemake.log[0]):
    make_demo_audio(snakemake.output.audio, seed=snakemake.params.seed)
