"""Rule dev_demo_audio: the demo's speech from a few consecutive dev clips of the speaker (sdt.demo.dev_demo_audio),
used when the config has no sample speaker and names no demo audio: a run on real data needs no espeak-ng."""

from sdt.demo.dev_demo_audio import dev_demo_audio
from sdt.step import logged

with logged(snakemake.log[0]):
    dev_demo_audio(snakemake.input.dev_audio, snakemake.input.index, snakemake.output.audio)
