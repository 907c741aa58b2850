"""A user's own video files, as the real workflow sees them (real snakemake and ffmpeg on lavfi videos): a file's
identity is its content (a replaced file reruns whatever its mtime, a copied folder reruns nothing), any legal
file name works, and a schema error is one line."""

import os
import shutil
import subprocess

import pytest
import yaml
from workflow_helpers import SMALL_CONFIG, make_workdir, planned_jobs, snakemake

from sdt.media import ffmpeg_exe, probe

pytestmark = pytest.mark.slow

NAMES = ("talk.mp4", "talk {draft}.mp4")  # braces: Snakemake would read {draft} as a wildcard
OUTPUTS = ("results/me/fps/talk.mp4", "results/me/fps/talk (draft).mp4")


def lavfi_video(path, seconds, freq):
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size=160x120:rate=25:duration={seconds}", "-f", "lavfi", "-i",
                    f"sine=frequency={freq}:duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)], check=True)
    return path


def workdir(path, videos):
    return make_workdir(path, {**SMALL_CONFIG, "speakers": {"me": {"videos": str(videos)}}})


@pytest.fixture
def converted(tmp_path):
    """A folder with NAMES (2 s videos) and their change_fps outputs."""
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in NAMES:
        lavfi_video(videos / name, 2, 440)
    work = workdir(tmp_path / "work", videos)
    snakemake(work, *OUTPUTS)
    return videos, work


def test_any_file_name_works(converted):
    videos, work = converted
    for out in OUTPUTS:
        assert probe(work / out)["n_frames"] == 30  # 2 s at 15 fps
    assert os.readlink(work / "results/me/source/talk (draft).link") == str(videos / "talk {draft}.mp4")
    assert planned_jobs(work, targets=OUTPUTS) == {}


def test_a_replaced_video_reruns_whatever_its_mtime(converted, tmp_path):
    videos, work = converted
    new = lavfi_video(tmp_path / "retake.mp4", 3, 880)
    os.utime(new, (1_000_000_000, 1_000_000_000))  # older than every output, as cp -p, rsync -a or unzip leave it
    subprocess.run(["cp", "-p", str(new), str(videos / "talk.mp4")], check=True)
    assert planned_jobs(work, targets=OUTPUTS) == {"change_fps": 1}  # talk.mp4's only: its content changed
    snakemake(work, *OUTPUTS, "--rerun-triggers", "mtime")  # also seen by mtime: its identity stamp is rewritten
    assert probe(work / OUTPUTS[0])["n_frames"] == 45  # the new 3 s take, not the old 2 s one


def test_the_same_videos_in_another_folder_rerun_nothing(converted, tmp_path):
    videos, work = converted
    moved = tmp_path / "moved"
    subprocess.run(["cp", "-r", str(videos), str(moved)], check=True)  # new mtimes, same content
    shutil.rmtree(videos)
    config = yaml.safe_load((work / "config" / "config.yaml").read_text())
    config["speakers"]["me"]["videos"] = str(moved)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(work, targets=OUTPUTS) == {}  # no video is converted again ...
    assert os.readlink(work / "results/me/source/talk.link") == str(moved / "talk.mp4")  # ... the links follow


def test_a_schema_error_is_one_line(tmp_path):
    work = make_workdir(tmp_path, {**SMALL_CONFIG, "dataset": {"clip_stride": "often"}})
    proc = snakemake(work, "--dry-run", check=False)
    assert proc.returncode != 0 and "dataset.clip_stride: 'often' is not of type 'integer'" in proc.output
    assert len(proc.output.strip().splitlines()) <= 4, proc.output  # no dump of the schema before it
