"""sdt.media, change_fps and extract_frames on small videos made at test time with the real ffmpeg (lavfi sources):
fps conversion, frame extraction, and the bad inputs a user may have in a folder of videos (corrupt, no audio, silent,
VFR)."""

import json
import logging
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from sdt.dataset.change_fps import change_fps
from sdt.dataset.detect_keypoints import detect_video_frames, list_frames
from sdt.dataset.extract_frames import extract_frames
from sdt.errors import InputError
from sdt.media import (
    audio_level_db,
    ffmpeg_exe,
    ffprobe_exe,
    is_silent,
    probe,
    read_audio,
)

SIZE = "320x240"


def ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


def lavfi_video(path, seconds=3, rate=25, audio="sine=frequency=440", audio_codec="aac"):
    """testsrc at ``rate`` fps with an audio source (None: no audio track)."""
    args = ["-f", "lavfi", "-i", f"testsrc=size={SIZE}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"{audio}:duration={seconds}", "-c:a", audio_codec]
    ffmpeg(*args, "-c:v", "libx264", "-pix_fmt", "yuv420p", path)
    return path


def frame_times(path):
    """Presentation times (s) of every video frame, from ffprobe."""
    out = subprocess.run([ffprobe_exe(), "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "frame=pts_time", "-of", "json", str(path)], capture_output=True, check=True)
    return np.array([float(f["pts_time"]) for f in json.loads(out.stdout)["frames"]])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    return {
        "talk": lavfi_video(d / "talk.mp4"),
        "pcm": lavfi_video(d / "pcm.mkv", seconds=2, audio_codec="pcm_s16le"),
        "mute": lavfi_video(d / "mute.mp4", seconds=2, audio=None),
        "silent": lavfi_video(d / "silent.mp4", seconds=2, audio="anullsrc=r=44100:cl=mono"),
        "hiss": lavfi_video(d / "hiss.mp4", seconds=2, audio="anoisesrc=a=0.0003"),
    }


@pytest.fixture(scope="module")
def vfr_video(tmp_path_factory):
    """1 s at 30 fps then 2 s at 10 fps in one stream, written with variable frame rate."""
    path = tmp_path_factory.mktemp("vfr") / "phone.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={SIZE}:rate=30:duration=1",
           "-f", "lavfi", "-i", f"testsrc=size={SIZE}:rate=10:duration=2", "-f", "lavfi", "-i", "sine=duration=3",
           "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-map", "2:a", "-fps_mode", "vfr",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", path)
    return path


@pytest.fixture(scope="module")
def converted(videos, tmp_path_factory):
    out = tmp_path_factory.mktemp("fps") / "talk.mp4"
    return out, change_fps(videos["talk"], out, 15)


def test_probe_reads_a_normal_video(videos):
    info = probe(videos["talk"])
    assert (info["width"], info["height"], info["fps"], info["n_frames"]) == (320, 240, 25.0, 75)
    assert info["has_audio"] and info["audio_codec"] == "aac" and not info["vfr"]
    assert info["duration"] == pytest.approx(3.0, abs=0.01)


def test_change_fps_gives_exact_constant_fps_and_keeps_audio(videos, converted):
    out, info = converted
    assert info == probe(out)
    assert info["fps"] == 15.0 and not info["vfr"] and info["n_frames"] == 45
    assert (info["width"], info["height"]) == (320, 240)
    np.testing.assert_allclose(frame_times(out), np.arange(45) / 15, atol=1e-3)
    assert info["has_audio"] and info["audio_codec"] == "aac" and info["duration"] == pytest.approx(3.0, abs=0.01)
    before, after = read_audio(videos["talk"], 16000), read_audio(out, 16000)
    assert abs(len(after) - 3 * 16000) <= 1024  # at most one AAC frame of padding
    n = min(len(before), len(after))
    assert np.corrcoef(before[:n], after[:n])[0, 1] > 0.99  # the same audio, not re-timed


def test_change_fps_reencodes_non_aac_audio(videos, tmp_path):
    info = change_fps(videos["pcm"], tmp_path / "pcm.mp4", 15)
    assert info["audio_codec"] == "aac" and info["n_frames"] == 30 and not is_silent(read_audio(tmp_path / "pcm.mp4",
                                                                                              16000))


def test_vfr_video_becomes_constant_fps_with_a_warning(vfr_video, tmp_path, caplog):
    src = probe(vfr_video)
    assert src["vfr"]
    with caplog.at_level(logging.WARNING, logger="sdt.media"):
        info = change_fps(vfr_video, tmp_path / "cfr.mp4", 15)
    assert "variable frame rate" in caplog.text and str(vfr_video) in caplog.text
    assert info["fps"] == 15.0 and not info["vfr"]
    times = frame_times(tmp_path / "cfr.mp4")
    np.testing.assert_allclose(np.diff(times), 1 / 15, atol=1e-3)
    assert abs(len(times) - src["duration"] * 15) <= 1


def test_b_frames_at_the_end_of_the_probed_packets_are_not_vfr(tmp_path):
    """ffprobe reads the first packets in decode order: cut there, the sorted frame times have holes at the end
    (B-frames not yet read).  This x264 stream of testsrc is cut just so; it is constant 15 fps."""
    video = tmp_path / "cfr.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=25",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(video)], check=True)
    assert probe(video, require_audio=False)["vfr"] is False


def test_mkv_with_longer_audio_is_not_taken_for_truncated(tmp_path):
    """Matroska states a stream's duration only in a tag, and the container's is the longer audio's."""
    src = tmp_path / "screen.mkv"
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={SIZE}:rate=25:duration=2", "-f", "lavfi", "-i", "sine=duration=4",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "libopus", src)
    info = probe(src)
    assert info["duration"] == pytest.approx(2.0, abs=0.01) and info["n_frames"] == 50
    assert change_fps(src, tmp_path / "out.mp4", 15)["n_frames"] == 30


def test_extract_frames_writes_every_frame_and_meta(converted, tmp_path):
    video, info = converted
    meta = extract_frames(video, tmp_path / "frames")
    files = sorted(p.name for p in (tmp_path / "frames").glob("*.jpg"))
    assert files == [f"{i:06d}.jpg" for i in range(info["n_frames"])]
    assert json.loads((tmp_path / "frames" / "meta.json").read_text()) == meta == {
        "fps": 15.0, "width": 320, "height": 240, "n_frames": 45, "video_width": 320, "video_height": 240}
    paths, read = list_frames(tmp_path / "frames", fps=15)  # what detect_keypoints will accept
    assert len(paths) == 45 and read == meta
    assert not [p for p in tmp_path.iterdir() if p.name != "frames"]  # no temporary folder left


def test_extract_frames_replaces_an_old_folder(converted, tmp_path):
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "999999.jpg").write_bytes(b"stale")
    extract_frames(converted[0], tmp_path / "frames")
    assert len(list((tmp_path / "frames").glob("*.jpg"))) == 45


def test_a_killed_extraction_leaves_no_hidden_folder_behind(tmp_path):
    """SIGKILL of the job (its process group: ffmpeg too, as Snakemake or SLURM kill a job) leaves the temporary frames
    folder; the next extraction of the same video removes it."""
    video = lavfi_video(tmp_path / "long.mp4", seconds=60, rate=15)
    code = ("from sdt.dataset.extract_frames import extract_frames; "
            f"extract_frames({str(video)!r}, {str(tmp_path / 'frames')!r})")
    job = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        for _ in range(600):
            hidden = [p for p in tmp_path.glob(".frames.*.tmp") if any(p.glob("*.jpg"))]
            if hidden or job.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        time.sleep(0.5)  # the group's ffmpeg gone
    assert hidden and hidden[0].is_dir()  # what a killed job leaves
    lavfi_video(tmp_path / "other.mp4", seconds=1, rate=15)
    extract_frames(tmp_path / "other.mp4", tmp_path / "other_frames")  # another output's leftovers are not its own
    assert hidden[0].is_dir()
    extract_frames(video, tmp_path / "frames")
    assert not list(tmp_path.glob(".*")) and len(list((tmp_path / "frames").glob("*.jpg"))) == 900


def test_tall_videos_are_scaled_down_for_detection_and_keypoints_mapped_back(messi_photo, tmp_path):
    """A 4K video is extracted at 1080 lines (dataset.frame_height); MediaPipe's keypoints on those frames, mapped to
    the video's pixels, agree with detection on the full frames (measured: median 0.2 % of the shoulder width)."""
    video = tmp_path / "uhd.mp4"
    ffmpeg("-loop", "1", "-i", messi_photo, "-vf", "scale=3840:2160,setsar=1", "-t", "0.2", "-r", "15", "-c:v",
           "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", video)
    small = extract_frames(video, tmp_path / "small", frame_height=1080)
    assert (small["width"], small["height"], small["video_width"], small["video_height"]) == (1920, 1080, 3840, 2160)
    assert cv2.imread(str(tmp_path / "small" / "000000.jpg")).shape == (1080, 1920, 3)
    assert extract_frames(video, tmp_path / "full", frame_height=0)["height"] == 2160
    assert extract_frames(video, tmp_path / "kept", frame_height=4000)["height"] == 2160  # never scaled up
    got = {k: detect_video_frames(tmp_path / k, progress=False, redetect=False) for k in ("small", "full")}
    assert (got["small"]["width"], got["small"]["height"]) == (3840, 2160)
    both = got["small"]["valid"] & got["full"]["valid"]
    assert both.any()
    shoulder = np.linalg.norm(got["full"]["pose"][both, :2, 2] - got["full"]["pose"][both, :2, 5], axis=1)
    body = np.linalg.norm(got["small"]["pose"][both, :2, :8] - got["full"]["pose"][both, :2, :8], axis=1)
    assert np.median(body / shoulder[:, None]) < 0.03


def test_corrupt_file_is_an_input_error_naming_it(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    for call in (lambda: change_fps(bad, tmp_path / "out.mp4", 15),
                 lambda: extract_frames(bad, tmp_path / "frames"), lambda: read_audio(bad, 16000)):
        with pytest.raises(InputError, match="corrupt") as err:
            call()
        assert err.value.path == str(bad) and str(bad) in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4"]  # no output, no temporary file


def test_truncated_file_is_an_input_error(converted, tmp_path):
    bad = tmp_path / "cut.mp4"
    bad.write_bytes(converted[0].read_bytes()[:20_000])  # moov atom first (faststart), the frames cut off
    with pytest.raises(InputError, match="truncated") as err:
        change_fps(bad, tmp_path / "out.mp4", 15)
    assert err.value.path == str(bad)
    assert not (tmp_path / "out.mp4").exists()


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        probe(tmp_path / "nope.mp4")


def test_video_without_audio_is_an_input_error(videos, tmp_path):
    with pytest.raises(InputError, match="no audio track") as err:
        change_fps(videos["mute"], tmp_path / "out.mp4", 15)
    assert err.value.path == str(videos["mute"])
    assert not list(tmp_path.iterdir())
    assert not probe(videos["mute"], require_audio=False)["has_audio"]  # extract_frames does not need audio


@pytest.mark.parametrize("name", ["silent", "hiss"])
def test_silent_audio_is_an_input_error(videos, tmp_path, name):
    """Digital silence and a muted microphone's hiss (-76 dBFS) both stop the video; speech does not."""
    with pytest.raises(InputError, match="silent") as err:
        change_fps(videos[name], tmp_path / "out.mp4", 15)
    assert err.value.path == str(videos[name]) and not list(tmp_path.iterdir())


def test_audio_level(videos):
    assert audio_level_db(videos["silent"]) < -90
    assert -80 < audio_level_db(videos["hiss"]) < -60
    assert audio_level_db(videos["talk"]) > -30  # lavfi's sine is 1/8 full scale: -21 dBFS


def test_is_silent():
    t = np.arange(16000) / 16000
    assert is_silent(np.zeros(100)) and is_silent(np.array([])) and is_silent(1e-4 * np.sin(2 * np.pi * 100 * t))
    assert not is_silent(0.1 * np.sin(2 * np.pi * 100 * t))
