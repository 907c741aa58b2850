"""Shared fixtures.  Every fixture is made at test time from what the installed packages ship."""

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "resources" / "messi5.jpg"  # put there by envs/setup.sh (Debian's opencv-doc)


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
