"""Rule make_demo_audio: deterministic espeak-ng speech for the demo when config demo.audio is empty
(sdt.demo.make_demo_audio): sentences that the sample videos never say, 16 kHz mono wav."""

import logging

from sdt.demo.make_demo_audio import make_demo_audio

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

make_demo_audio(snakemake.output.audio, seed=snakemake.params.seed)
