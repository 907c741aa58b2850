"""sdt.dataset.generate_clips: window arithmetic on synthetic arrays whose values encode time, and generate_clips end
to end on real ffmpeg videos (lavfi testsrc + a tone whose amplitude grows with time) made at test time."""

import hashlib
import logging
import subprocess

import numpy as np
import pytest
from PIL import Image
from test_clean import make_pose, save_keypoints

from sdt.constants import clip_samples
from sdt.dataset.change_fps import change_fps
from sdt.dataset.extract_frames import extract_frames
from sdt.dataset.generate_clips import audio_starts, generate_clips, plan_windows, write_clips
from sdt.dataset.remove_outliers import remove_outliers
from sdt.dataset.rescale_shoulders import rescale_shoulders
from sdt.errors import InputError
from sdt.io import save_npz
from sdt.media import ffmpeg_exe, probe, read_audio

FPS, RATE, L = 15, 16000, 68266
VIDEO_S, AUDIO_S = 6, 5  # the test video: 90 frames, its audio ends 1 s early
GAIN = 0.05  # tone amplitude GAIN * (1 + t): the level of a clip's audio tells the time it was taken from


def test_audio_length_and_starts():
    assert clip_samples(64, FPS, RATE) == L == int(64 * 16000 / 15)
    starts = [0, 3, 5, 80, 969, 1923, 54000]
    assert audio_starts(starts, FPS, RATE).tolist() == [int(s / FPS * RATE) for s in starts]


def test_window_starts_and_counts():
    plan = plan_windows(np.ones(200, bool), 10**7, FPS, RATE)  # defaults: 64 frames, stride 5, skip 80
    assert plan["start_frame"].tolist() == list(range(80, 200 - 64, 5)) == [80, 85, 90, 95, 100, 105, 110, 115,
                                                                            120, 125, 130, 135]
    assert plan["windows_total"] == 12 and plan["dropped_invalid"] == plan["dropped_audio"] == 0
    assert plan["audio_start"].tolist() == [int(s / FPS * RATE) for s in range(80, 137, 5)]


@pytest.mark.parametrize("n_frames", [144, 149, 150, 153])
def test_windows_stop_where_the_release_script_stops(n_frames):
    """The release's 3_1_generate_clips.py: range(start_frame_idx, total_length - NUM_FRAMES, FPS // 3) with 80 and
    64: a window never ends on the video's last frame.  last_window=True also cuts that window (when the stride
    reaches it)."""
    release = plan_windows(np.ones(n_frames, bool), 10**7, FPS, RATE)["start_frame"].tolist()
    assert release == list(range(80, n_frames - 64, 5))
    every = plan_windows(np.ones(n_frames, bool), 10**7, FPS, RATE, last_window=True)["start_frame"].tolist()
    ends_on_last_frame = (n_frames - 64 - 80) % 5 == 0
    assert every == release + ([n_frames - 64] if ends_on_last_frame else [])
    assert {144: [], 149: [80], 150: [80, 85], 153: [80, 85]}[n_frames] == release


def test_outlier_frame_drops_every_window_containing_it():
    keep = np.ones(200, bool)
    keep[100] = False  # in the windows starting at 37..100: of those, 80, 85, 90, 95, 100
    keep[10] = False  # inside the skipped frames: no window sees it
    plan = plan_windows(keep, 10**7, FPS, RATE)
    assert plan["dropped_invalid"] == 5 and plan["invalid_start"].tolist() == [80, 85, 90, 95, 100]
    assert plan["start_frame"].tolist() == list(range(105, 137, 5))
    for frame, dropped in ((79, 0), (80, 1), (143, 12), (144, 11)):  # the windows' first and last frames
        keep = np.ones(200, bool)
        keep[frame] = False
        assert plan_windows(keep, 10**7, FPS, RATE)["dropped_invalid"] == dropped, frame


def test_short_audio_drops_windows_and_counts_each_window_once():
    keep = np.ones(200, bool)
    keep[134] = False  # invalidates 75 (skipped), 80 .. 130
    n_audio = int(135 / FPS * RATE) + L - 1  # one sample short of the last window
    plan = plan_windows(keep, n_audio, FPS, RATE)
    assert plan["start_frame"].tolist() == [] and plan["short_start"].tolist() == [135]
    assert (plan["dropped_invalid"], plan["dropped_audio"]) == (11, 1)
    plan = plan_windows(np.ones(200, bool), n_audio + 1, FPS, RATE)  # exactly enough audio
    assert plan["dropped_audio"] == 0 and plan["start_frame"][-1] == 135
    plan = plan_windows(np.ones(200, bool), int(100 / FPS * RATE) + L, FPS, RATE)
    assert plan["start_frame"].tolist() == [80, 85, 90, 95, 100] and plan["dropped_audio"] == 7
    assert plan["windows_total"] == len(plan["start_frame"]) + plan["dropped_invalid"] + plan["dropped_audio"]


def test_clip_contents_follow_the_start_frame(tmp_path):
    n_frames = 260
    pose = np.broadcast_to(np.arange(n_frames, dtype=np.float32)[:, None, None], (n_frames, 3, 137))
    audio = np.arange(int(n_frames / FPS * RATE), dtype=np.float32)  # each sample is its own index (exact < 2**24)
    keep = np.ones(n_frames, bool)
    keep[150] = False
    plan = plan_windows(keep, len(audio), FPS, RATE, skip_frames=3)
    out = tmp_path / "clips.npz"
    write_clips(out, pose, audio, plan, chunk=4, progress=False, video="v")  # several chunks
    with np.load(out) as z:
        poses, clip_audio, starts = z["poses"], z["audio"], z["start_frame"]
        assert str(z["video"]) == "v"
    assert poses.shape == (len(starts), 64, 3, 137) and poses.dtype == np.float32
    assert clip_audio.shape == (len(starts), L) and clip_audio.dtype == np.float32
    assert len(starts) == 39 - 13 and 3 in starts and not set(range(87, 151)) & set(starts.tolist())
    np.testing.assert_array_equal(poses[:, :, 1, 7], starts[:, None] + np.arange(64))
    first = np.array([int(s / FPS * RATE) for s in starts])
    np.testing.assert_array_equal(clip_audio, first[:, None] + np.arange(L, dtype=np.float32))


def test_too_short_video_gives_zero_clips(tmp_path):
    plan = plan_windows(np.ones(144, bool), 10**6, FPS, RATE)  # 80 + 64 + 1 frames needed
    assert plan["windows_total"] == 0 and len(plan["start_frame"]) == 0
    write_clips(tmp_path / "c.npz", make_pose(144), np.zeros(10**6, np.float32), plan, windows_total=0)
    with np.load(tmp_path / "c.npz") as z:
        assert z["poses"].shape == (0, 64, 3, 137) and z["audio"].shape == (0, L)
        assert z["start_frame"].shape == (0,) and int(z["windows_total"]) == 0


def ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *map(str, args)],
                   check=True)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """90 frames at 15 fps (testsrc) with AUDIO_S s of a 1 kHz tone of amplitude GAIN * (1 + t), AAC."""
    path = tmp_path_factory.mktemp("video") / "talk.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=160x120:rate={FPS}:duration={VIDEO_S}", "-f", "lavfi", "-i",
           f"aevalsrc={GAIN}*(1+t)*sin(2*PI*1000*t):s=44100:d={AUDIO_S}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-c:a", "aac", path)
    assert probe(path)["n_frames"] == VIDEO_S * FPS
    return path


@pytest.fixture(scope="module")
def steps(video, tmp_path_factory):
    """keypoints -> remove_outliers -> rescale_shoulders for the video's 90 frames; frame 3 is an outlier."""
    folder = tmp_path_factory.mktemp("steps")
    pose = make_pose(VIDEO_S * FPS, widths=np.linspace(150, 250, VIDEO_S * FPS))
    pose[3, :2, 50] = 0
    kp = save_keypoints(folder / "kp.npz", pose)
    remove_outliers(kp, folder / "outliers.npz")
    rescale_shoulders(kp, folder / "outliers.npz", folder / "rescaled.npz")
    return folder / "rescaled.npz", folder / "outliers.npz"


def test_generate_clips_end_to_end(video, steps, tmp_path, caplog):
    rescaled, outliers = steps
    before = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (rescaled, outliers, video)]
    out = tmp_path / "clips" / "talk.npz"
    with caplog.at_level(logging.INFO, logger="sdt.dataset.generate_clips"):
        info = generate_clips(rescaled, outliers, video, out, fps=FPS, clip_frames=64, clip_stride=5, skip_frames=0,
                              audio_rate=RATE, progress=False)
    # windows start at 0, 5, ..., 25; 0 holds outlier frame 3; the audio (5 s = 80000 samples) ends inside the
    # windows from 15 on (int(15 / 15 * 16000) + 68266 = 84266 samples needed)
    assert info["windows_total"] == 6 and info["dropped_invalid"] == 1 and info["dropped_audio"] == 3
    assert info["n"] == 2 and info["n_frames"] == 90
    audio = read_audio(video, RATE)
    assert abs(len(audio) - AUDIO_S * RATE) < 0.05 * RATE
    with np.load(rescaled) as z:
        pose = z["pose"]
    with np.load(out) as z:
        assert z["start_frame"].tolist() == [5, 10] and str(z["video"]) == "talk"
        assert (int(z["windows_total"]), int(z["dropped_invalid"]), int(z["dropped_audio"])) == (6, 1, 3)
        assert float(z["fps"]) == FPS and int(z["audio_rate"]) == RATE
        for i, s in enumerate((5, 10)):
            np.testing.assert_array_equal(z["poses"][i], pose[s:s + 64])
            a0 = int(s / FPS * RATE)
            np.testing.assert_array_equal(z["audio"][i], audio[a0:a0 + L])
            level = np.sqrt(2 * np.mean(z["audio"][i][:3200] ** 2))  # tone amplitude over the clip's first 0.2 s
            assert level / GAIN - 1 - 0.1 == pytest.approx(s / FPS, abs=0.03)  # the clip's time, within half a frame
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in (rescaled, outliers, video)] == before
    assert "6 windows" in caplog.text and "dropped 1 with an outlier frame, 3 with audio too short" in caplog.text
    assert "start frames: 15-25" in caplog.text


def test_video_too_short_for_one_clip(video, steps, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="sdt.dataset.generate_clips"):
        info = generate_clips(*steps, video, tmp_path / "c.npz", fps=FPS, audio_rate=RATE)  # skip 80: 90 < 144
    assert info["n"] == 0 and info["windows_total"] == 0
    with np.load(tmp_path / "c.npz") as z:
        assert z["poses"].shape == (0, 64, 3, 137) and z["audio"].shape == (0, L)
    assert "too few for one clip" in caplog.text


def test_video_without_audio_names_the_file(steps, tmp_path):
    silent = tmp_path / "mute.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=160x120:rate={FPS}:duration={VIDEO_S}", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", silent)
    with pytest.raises(InputError, match="no audio track") as err:
        generate_clips(*steps, silent, tmp_path / "c.npz", fps=FPS, skip_frames=0)
    assert str(silent) in str(err.value)
    assert not (tmp_path / "c.npz").exists()


def test_unreadable_video_and_mismatched_inputs_name_the_file(video, steps, tmp_path):
    rescaled, outliers = steps
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(InputError, match="broken.mp4"):
        generate_clips(rescaled, outliers, broken, tmp_path / "c.npz", fps=FPS)
    with pytest.raises(InputError, match="at 15 fps, clips are cut at 25") as err:
        generate_clips(rescaled, outliers, video, tmp_path / "c.npz", fps=25)
    assert str(rescaled) in str(err.value)
    short = tmp_path / "short_outliers.npz"
    save_npz(short, keep=np.ones(10, bool))
    with pytest.raises(InputError, match="has 90 frames") as err:
        generate_clips(rescaled, short, video, tmp_path / "c.npz", fps=FPS)
    assert str(short) in str(err.value)
    assert not (tmp_path / "c.npz").exists()


# --- audio and picture that start at different times ------------------------------------------------------------

FLASH_PERIOD, FLASH_FIRST = 0.6, 0.2  # s: flashes and clicks at 0.2, 0.8, 1.4, ... (multiples of 1/15 s)
DELAY = 0.5  # s: the audio stream starts this long after the picture


@pytest.fixture(scope="module")
def late_audio_video(tmp_path_factory):
    """12 s at 30 fps: a white picture for 1/15 s at each instant 0.2 + 0.6 k, a 2 ms click at the same instants in
    the audio, whose stream starts DELAY s after the picture (ffmpeg -itsoffset: the mp4 gets an audio start time,
    as phone and screen recordings and re-muxed files do); the audio's own clicks therefore sit DELAY s earlier."""
    folder = tmp_path_factory.mktemp("late_audio")
    frame = "mod(N-6\\,18)"  # frames 6, 7, 24, 25, ...: t = 0.2 + 0.6 k for 1/15 s
    ffmpeg("-f", "lavfi", "-i", f"color=c=black:s=160x120:r=30:d=12,format=yuv420p,"
           f"geq=lum='if(lt({frame}\\,2)\\,235\\,16)':cb=128:cr=128", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           folder / "picture.mp4")
    click = f"lt(mod(t+{DELAY - FLASH_FIRST}\\,{FLASH_PERIOD})\\,0.002)"
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc='if({click}\\,0.9\\,0)':s=48000:d=12", folder / "clicks.wav")
    ffmpeg("-i", folder / "picture.mp4", "-itsoffset", DELAY, "-i", folder / "clicks.wav", "-map", "0:v",
           "-map", "1:a", "-c:v", "copy", "-c:a", "aac", folder / "late.mp4")
    info = probe(folder / "late.mp4")
    assert info["audio_start"] - info["video_start"] > DELAY - 0.05  # the offset is in the file, not in the samples
    return folder / "late.mp4"


def test_late_audio_stays_on_its_frames(late_audio_video, tmp_path):
    """The whole chain (change_fps, extract_frames, generate_clips) on the late-audio video: every clip's click lands
    on its flash frame within one mel hop (160 samples)."""
    change_fps(late_audio_video, tmp_path / "fps.mp4", FPS)
    meta = extract_frames(tmp_path / "fps.mp4", tmp_path / "frames")
    frames = sorted((tmp_path / "frames").glob("*.jpg"))
    level = np.array([np.asarray(Image.open(p).convert("L")).mean() for p in frames])
    flashes = np.flatnonzero(level > 128)  # the frames that show a flash
    assert len(flashes) >= 15 and np.allclose(np.diff(flashes), FLASH_PERIOD * FPS)
    flashes = flashes[flashes / FPS > DELAY]  # the first flash comes before the audio starts: silence there
    pose = make_pose(meta["n_frames"])
    kp = save_keypoints(tmp_path / "kp.npz", pose)
    remove_outliers(kp, tmp_path / "outliers.npz")
    rescale_shoulders(kp, tmp_path / "outliers.npz", tmp_path / "rescaled.npz")
    generate_clips(tmp_path / "rescaled.npz", tmp_path / "outliers.npz", tmp_path / "fps.mp4", tmp_path / "clips.npz",
                   skip_frames=0, progress=False)
    with np.load(tmp_path / "clips.npz") as z:
        starts, audio = z["start_frame"], z["audio"]
    assert len(starts) >= 20
    hop, window = 160, int(FLASH_PERIOD / 2 * RATE)
    for start, clip in zip(starts, audio, strict=True):
        inside = flashes[(flashes >= start) & (flashes < start + 64)] - start
        assert len(inside) >= 5
        for f in inside:
            expected = int(round(f / FPS * RATE))  # the flash frame's instant, in samples from the clip's start
            lo = max(0, expected - window)
            click = lo + int(np.argmax(np.abs(clip[lo:expected + window])))
            assert abs(click - expected) <= hop, (start, f, click - expected)
