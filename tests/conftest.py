"""Shared fixtures.  Every fixture is made at test time from what the installed packages ship."""

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "resources" / "messi5.jpg"  # put there by envs/setup.sh (Debian's opencv-doc)


@pytest.fixture(scope="module", autouse=True)
def keep_torch_threads():
    """Training and evaluation set the process's torch threads: put them back after each test module."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def short_clips(folder, audio_samples=8000, **kwargs):
    """tests/synthetic.py's synthetic_clips with the audio cut to 0.5 s: the audio encoder resizes its output to 64
    frames whatever the length, and a generator step costs 8x less."""
    import numpy as np
    from synthetic import synthetic_clips

    paths = synthetic_clips(folder, **kwargs)
    for split in ("train", "dev"):
        audio = np.load(paths[f"{split}_audio"])
        np.save(paths[f"{split}_audio"], np.ascontiguousarray(audio[:, :audio_samples]))
    return paths


def train_settings(**overrides):
    """The release's hyper-parameters (TrainSettings' defaults, which config.yaml's train section shows) with
    ``overrides``."""
    from sdt.train.config import TrainSettings

    return {**TrainSettings().as_dict(), **overrides}


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def messi_photo():
    """The real photo on which MediaPipe Holistic finds body, face and both hands (548x342)."""
    if not PHOTO.exists():
        pytest.fail(f"{PHOTO} is missing: run `make setup` (envs/setup.sh) first")
    return PHOTO


@pytest.fixture(scope="session")
def espeak():
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is not installed: run `make setup` as root or `apt-get install espeak-ng`")
    return exe

