"""The shared facts of the dataset contract (SDT_SPEC 2), one home each: every stage, network and rule takes
them from here.  The networks, the mel spectrogram and the demo are built for exactly these values."""

FPS = 15  # pose frames per second of every clip (SDT_SPEC 2.1)
CLIP_FRAMES = 64  # frames per clip: 4.27 s at 15 fps (SDT_SPEC 2.6)
AUDIO_RATE = 16000  # clip audio: mono, 16 kHz (SDT_SPEC 2.6, 3)
SPLITS = ("train", "idle", "dev")  # per video in time order (SDT_SPEC 2.7); idle clips are never used
# FTD's pose-encoder input for a global-pose model (SDT_SPEC 6, issue 14): the release's, or the poses made parted
FTD_INPUTS = ("release", "parted")


def clip_samples(frames=CLIP_FRAMES, fps=FPS, rate=AUDIO_RATE):
    """Audio samples of a clip of ``frames`` frames: ``int(frames * rate / fps)`` as the release crops/pads."""
    return int(frames * rate / fps)


CLIP_SAMPLES = clip_samples()  # 68266
