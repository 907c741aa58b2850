"""The shared facts of the dataset contract (docs/dataset.md §6), one home each: every stage, network and rule takes
them from here.  The networks, the mel spectrogram and the demo are built for exactly these values."""

from pathlib import Path

from models.contract import AUDIO_RATE, CLIP_FRAMES, FPS  # noqa: F401  (their home: what the networks take)

# The release gives Oliver's scale_factor for his mean shoulder width: rescaling a speaker's poses to that width
# lets it reuse the factor, so that every speaker's metrics are on Oliver's scale (docs/dataset.md §10, §13)
OLIVER_SHOULDER_PX = 331.0850066245443
OLIVER_SCALE_FACTOR = 0.9549234615419752

SPLITS = ("train", "idle", "dev")  # per video in time order (docs/dataset.md §12); idle clips are never used
# FTD's pose-encoder input for a global-pose model (docs/evaluation.md §3, issue 14): the release's, or the poses
# made parted
FTD_INPUTS = ("release", "parted")


def clip_samples(frames=CLIP_FRAMES, fps=FPS, rate=AUDIO_RATE):
    """Audio samples of a clip of ``frames`` frames: ``int(frames * rate / fps)`` as the release crops/pads."""
    return int(frames * rate / fps)


CLIP_SAMPLES = clip_samples()  # 68266

# Data shipped with the workflow (config/published/README.md): the release's per-speaker statistics and the
# paper's published numbers, relative to the workflow's folder
PUBLISHED = Path("config") / "published"
RELEASE_STATS_JSON = PUBLISHED / "release_speakers_stat.json"
PAPER_RESULTS_CSV = PUBLISHED / "paper_results.csv"
REPO = Path(__file__).resolve().parents[1]  # this checkout: the default home of the files above for direct calls
