#!/usr/bin/env bash
# Sets up everything the workflow and its tests need, on a fresh Debian machine or an existing one:
#   1. Debian packages (only when root and apt-get exists): espeak-ng (sample speaker's voice), ffmpeg/ffprobe,
#      and the SLURM daemons + munge used by the SLURM profile test.
#   2. messi5.jpg, the sample speaker's photo, taken from Debian's opencv-doc package (no other download).
#   3. A virtual environment in .venv with the exact pins of envs/requirements.txt and this project (-e).
# Idempotent: each part leaves a stamp and is skipped when its inputs did not change.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
PY=${PYTHON:-python3}
mkdir -p resources

# 1. System packages
APT_PKGS="espeak-ng ffmpeg"
# The test cluster's SLURM daemons, except on a machine that already has its own SLURM (a real cluster's node).
if ! command -v sinfo >/dev/null || dpkg -s slurmctld >/dev/null 2>&1; then
  APT_PKGS="$APT_PKGS slurmctld slurmd slurm-client munge"
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    echo "[setup] apt-get install$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
else
  for t in espeak-ng; do
    command -v "$t" >/dev/null || echo "[setup] warning: $t not found and not root: install it (apt-get install $t)"
  done
fi

# 2. The sample speaker's photo (548x342, body + face + both hands visible)
PHOTO=resources/messi5.jpg
if [ ! -s "$PHOTO" ]; then
  SRC=/usr/share/doc/opencv-doc/examples/data/messi5.jpg
  if [ -s "$SRC" ]; then
    cp "$SRC" "$PHOTO"
  else
    echo "[setup] extracting messi5.jpg from Debian's opencv-doc package"
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1 \
      && dpkg-deb --fsys-tarfile opencv-doc_*.deb | tar -x ./usr/share/doc/opencv-doc/examples/data/messi5.jpg)
    cp "$tmp/usr/share/doc/opencv-doc/examples/data/messi5.jpg" "$PHOTO.tmp" && mv "$PHOTO.tmp" "$PHOTO"
    rm -rf "$tmp"
  fi
fi

# 3. Python environment
STAMP=$VENV/.sdt-installed
want=$(cat envs/requirements.txt pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  echo "[setup] pip install -r envs/requirements.txt (first time: a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r envs/requirements.txt
  "$VENV/bin/python" -m pip install -q --no-deps -e .
  echo "$want" > "$STAMP"
fi
echo "[setup] environment ready: $VENV"
