"""Rule make_demo_audio: deterministic espeak-ng speech for the demo when the config names no audio."""

import logging

import numpy as np

from sdt.constants import AUDIO_RATE
from sdt.io import atomic_path
from sdt.media import speak

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------

# Different from the sample videos' sentences (sdt.dataset.make_sample_video.SENTENCES), so the demo speech is unseen.
DEMO_SENTENCES = (
    "Welcome to this short demonstration of gestures generated from speech.",
    "Every movement you see was predicted from the sound of my voice alone.",
    "A template decides the overall style, and the audio adds the details.",
    "Try a different template, and the same words get a different performance.",
    "Quiet moments should bring calm hands, while loud words bring bigger moves.",
    "This video was made by a workflow that anybody can run again from scratch.",
)
DEMO_VOICE = {"speed": 160, "pitch": 50}


def make_demo_audio(out_wav, seed=0, sentences=3, espeak="espeak-ng"):
    """Deterministic demo speech: ``sentences`` of DEMO_SENTENCES (picked with ``seed``) by espeak-ng, with
    short pauses, as a 16 kHz mono wav.  Its length is no multiple of 64 frames, so the demo pads a window."""
    import soundfile
    import soxr

    order = np.random.default_rng(seed).permutation(len(DEMO_SENTENCES))[:sentences]
    parts = [np.zeros(int(0.3 * AUDIO_RATE), np.float32)]
    for i in order:
        samples, rate = speak(DEMO_SENTENCES[i], DEMO_VOICE["speed"], DEMO_VOICE["pitch"], espeak)
        parts += [soxr.resample(samples, rate, AUDIO_RATE).astype(np.float32),
                  np.zeros(int(0.5 * AUDIO_RATE), np.float32)]
    audio = np.clip(np.concatenate(parts), -1.0, 1.0)
    with atomic_path(out_wav, suffix=".wav") as tmp:
        soundfile.write(tmp, audio, AUDIO_RATE, subtype="PCM_16")
    log.info("wrote %s: %.2f s, sentences %s", out_wav, len(audio) / AUDIO_RATE, order.tolist())
    return len(audio) / AUDIO_RATE
