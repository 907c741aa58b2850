"""Interval tables (times, columns, errors naming the row) and the real ffmpeg cut (sdt.dataset.cut_interval)."""

import subprocess

import pytest

from sdt.dataset.cut_interval import cut_interval, parse_time, read_intervals
from sdt.errors import InputError
from sdt.media import decode_audio, ffmpeg_exe
from sdt.plan.speakers import video_id


@pytest.mark.parametrize("text, seconds", [("00:01:02.500000", 62.5), ("1:00:00", 3600.0), ("02:03", 123.0),
                                           ("7.25", 7.25), ("12", 12.0)])
def test_parse_time(text, seconds):
    assert parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "00:61:00", "1:2:3:4", "-3"])
def test_parse_time_rejects(text):
    with pytest.raises(ValueError, match="not a time"):
        parse_time(text)


def write(path, text):
    path.write_text(text)
    return path


S2G = ("dataset,start_time,end_time,interval_id,speaker,video_fn\n"
       "train,00:00:01.000000,00:00:03.500000,int {1},oliver,show.mp4\n"
       "val,4.0,6,int2,oliver,show.mp4\n"
       "test,0:07,0:09,int3,kubinec,lecture.mp4\n")


def test_read_speech2gesture_table(tmp_path):
    rows = read_intervals(write(tmp_path / "t.csv", S2G), speaker="oliver", sanitise=video_id)
    assert [(r.id, r.video_fn, r.start, r.end, r.dataset) for r in rows] == [
        ("int (1)", "show.mp4", 1.0, 3.5, "train"), ("int2", "show.mp4", 4.0, 6.0, "dev")]
    assert rows[1].row.endswith("t.csv line 3")


def test_read_minimal_table_defaults(tmp_path):
    rows = read_intervals(write(tmp_path / "t.csv", "video_fn,start_time,end_time\na.mp4,0,2\na,00:01:01.250,70\n"))
    assert [(r.id, r.dataset) for r in rows] == [("a_0-2", None), ("a_61.25-70", None)]  # the same in any row


@pytest.mark.parametrize("text, message", [
    ("video_fn,start_time\na,0\n", r"lacks the column\(s\) \['end_time'\]"),
    ("video_fn,start_time,end_time\na,0,2\na,5,4\n", "line 3: end_time 4 is not after"),
    ("video_fn,start_time,end_time\na,zero,2\n", "line 2: start_time / end_time: not a time"),
    ("video_fn,start_time,end_time,interval_id\na,0,2,x\na,3,4,x\n", "line 3: interval id 'x' is already used"),
    ("video_fn,start_time,end_time,dataset\na,0,2,holdout\n", "line 2: dataset 'holdout' is not one of"),
    ("video_fn,start_time,end_time,speaker\na,0,2,bob\n", "no row of speaker 'me'"),
])
def test_table_errors_name_the_row(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        read_intervals(write(tmp_path / "t.csv", text), speaker="me")


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=160x120:rate=25:duration=6", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=6", "-c:v", "libx264", "-g", "250", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)], check=True)
    return path


def test_cut_is_frame_accurate_and_deterministic(long_video, tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    out = cut_interval(long_video, a, 1.24, 3.0)  # between keyframes (one every 10 s)
    cut_interval(long_video, b, 1.24, 3.0)
    assert out["n_frames"] == 44 and abs(out["duration"] - 1.76) < 0.05  # 1.76 s at 25 fps
    assert a.read_bytes() == b.read_bytes()
    audio = decode_audio(a, 16000)
    assert abs(len(audio) / 16000 - 1.76) < 0.05


def test_cut_outside_the_video_names_the_row(long_video, tmp_path):
    with pytest.raises(InputError, match=r"t.csv line 4.*does not fit"):
        cut_interval(long_video, tmp_path / "x.mp4", 5.0, 9.0, row="t.csv line 4")
    assert not (tmp_path / "x.mp4").exists()
