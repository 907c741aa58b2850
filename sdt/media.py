"""ffmpeg and ffprobe for every stage that reads or writes media: probing, silence, audio decoding.

Every failure on a bad video raises :class:`sdt.errors.InputError` naming the file, with ffmpeg's last stderr
lines: unreadable or corrupt file, no video stream, no audio track, and a silent audio track.  Silence is an
error, not a warning: a muted recording (whole-track RMS below ``SILENCE_DB``, -60 dBFS) would give clips whose
audio carries no speech, and a warning in one of many logs is easily missed; pauses inside speech are fine.
Variable frame rate (phone recordings) is not an error: rule change_fps converts every video to constant frame
rate anyway, which is what a researcher expects; ``probe`` flags it and ``change_fps`` logs a warning.
"""

import io
import json
import logging
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile

from sdt.errors import InputError

log = logging.getLogger(__name__)

REORDER_DEPTH = 16  # frames of B-frame reordering to ignore at the end of a probed packet window
VFR_TOLERANCE = 0.01  # relative spread of frame durations (or of r vs avg frame rate) that makes a video VFR
VFR_PACKETS = 300  # frame timestamps read to check VFR: a few seconds, cheap on any length of video
SILENCE_DB = -60.0  # whole-track RMS (dBFS) below which an audio track counts as silent (a muted microphone)


def ffmpeg_exe():
    """PATH's ffmpeg (Debian's), else the static build that imageio-ffmpeg ships."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


def ffprobe_exe():
    exe = shutil.which("ffprobe")
    if exe is None:
        raise RuntimeError("ffprobe is not on PATH: install ffmpeg (envs/setup.sh does, with apt)")
    return exe


def stderr_tail(stderr, lines=6):
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else (stderr or "")
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no message)"


def run_ffmpeg(args, path, what):
    """Run ``ffmpeg args`` (stdout returned as bytes); a failure is an InputError about ``path``."""
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        raise InputError(path, f"{what} failed (ffmpeg exit {proc.returncode}): {stderr_tail(proc.stderr)}")
    if proc.stderr.strip():  # ffmpeg goes on past broken packets: say so in the log
        log.warning("%s: ffmpeg reported errors during %s: %s", path, what, stderr_tail(proc.stderr))
    return proc.stdout


def _ffprobe(path, *args):
    proc = subprocess.run([ffprobe_exe(), "-v", "error", "-of", "json", *args, str(path)], capture_output=True)
    if proc.returncode != 0:
        raise InputError(path, f"unreadable or corrupt video (ffprobe: {stderr_tail(proc.stderr)})")
    return json.loads(proc.stdout or b"{}")


def _rate(text):
    """ffprobe's '30000/1001' as a float; 0.0 for '0/0' or missing."""
    try:
        return float(Fraction(text))
    except (TypeError, ValueError, ZeroDivisionError):
        return 0.0


def _stream_duration(stream):
    """A stream's own duration in s: mp4 states it, Matroska only as a 'DURATION' tag (HH:MM:SS.fraction); 0.0
    when neither is there.  The container's duration is the longest stream's, often the audio."""
    if stream.get("duration") not in (None, "N/A"):
        return float(stream["duration"])
    tag = next((v for k, v in stream.get("tags", {}).items() if k.upper() == "DURATION"), "")
    match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d*)?)", tag.strip())
    return 3600 * int(match[1]) + 60 * int(match[2]) + float(match[3]) if match else 0.0


def _irregular_timestamps(path, stream):
    """True when the first VFR_PACKETS frame durations of video stream ``stream`` are not all equal (VFR)."""
    info = _ffprobe(path, "-select_streams", str(stream), "-read_intervals", f"%+#{VFR_PACKETS}",
                    "-show_entries", "packet=pts_time")
    pts = np.sort([float(p["pts_time"]) for p in info.get("packets", []) if "pts_time" in p])
    # Packets come in decode order: cut after N of them, B-frames that show before the last ones read are
    # missing, so the tail of the sorted times has holes.  Drop it (x264's reorder depth is at most 16).
    pts = pts[:-REORDER_DEPTH] if len(pts) > 2 * REORDER_DEPTH else pts
    steps = np.diff(pts)
    if len(steps) < 2 or np.median(steps) <= 0:
        return False
    # 1.5 ms of slack: containers with millisecond timestamps (mkv, webm) store 30 fps as 33/34 ms steps
    return bool(np.ptp(steps) > VFR_TOLERANCE * np.median(steps) + 0.0015)


def probe(path, require_audio=True):
    """Facts about a video: {fps, width, height, n_frames, duration, has_audio, audio_rate, audio_codec, vfr,
    video_stream, start, video_start, audio_start} (video_stream: the stream index of the picture, skipping cover
    art; start: the file's start time, from which ffmpeg counts time; video_start, audio_start: each stream's start
    time in s, edit lists applied; None without audio).

    fps is the average frame rate (frames / duration); width and height are as displayed (rotation applied).
    Raises InputError for an unreadable file, no video stream, or (when ``require_audio``) no audio track.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "video file does not exist")
    info = _ffprobe(path, "-show_streams", "-show_format")
    video = next((s for s in info.get("streams", []) if s.get("codec_type") == "video"
                  and not s.get("disposition", {}).get("attached_pic")), None)
    if video is None or not video.get("width"):
        raise InputError(path, "unreadable or corrupt video: no video stream")
    audio = next((s for s in info.get("streams", []) if s.get("codec_type") == "audio"), None)
    if audio is None and require_audio:
        raise InputError(path, "the video has no audio track (speech is needed for every clip)")
    r_fps, avg_fps = _rate(video.get("r_frame_rate")), _rate(video.get("avg_frame_rate"))
    fps = avg_fps or r_fps
    if fps <= 0:
        raise InputError(path, "unreadable or corrupt video: no frame rate")
    duration = _stream_duration(video) or float(info.get("format", {}).get("duration") or 0.0)
    n_frames = int(video.get("nb_frames") or round(duration * fps))
    width, height = int(video["width"]), int(video["height"])
    rotation = next((int(d.get("rotation", 0)) for d in video.get("side_data_list", []) if "rotation" in d), 0)
    if abs(rotation) % 180 == 90:
        width, height = height, width
    vfr = abs(r_fps - avg_fps) > VFR_TOLERANCE * max(r_fps, avg_fps) or _irregular_timestamps(path, video["index"])
    return {
        "fps": fps, "width": width, "height": height, "n_frames": n_frames, "duration": duration,
        "has_audio": audio is not None, "audio_rate": int(audio["sample_rate"]) if audio else 0,
        "audio_codec": audio.get("codec_name") if audio else None, "vfr": bool(vfr),
        "video_stream": int(video["index"]),
        "start": _seconds(info.get("format", {}).get("start_time")), "video_start": _seconds(video.get("start_time")),
        "audio_start": _seconds(audio.get("start_time")) if audio else None,
    }


def _seconds(value):
    """ffprobe's '0.478000' as a float; 0.0 for 'N/A' or missing."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def audio_level_db(path):
    """RMS level of the first audio track in dBFS (ffmpeg's volumedetect; digital silence reads -91 dB)."""
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "info", "-i", str(path), "-map", "0:a:0",
           "-vn", "-sn", "-dn", "-af", "volumedetect", "-f", "null", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    stderr = proc.stderr.decode(errors="replace")
    match = re.search(r"mean_volume:\s*(-?inf|-?[\d.]+)\s*dB", stderr)
    if proc.returncode != 0 or match is None:
        raise InputError(path, f"the audio track cannot be decoded (ffmpeg exit {proc.returncode}): "
                               f"{stderr_tail(stderr)}")
    return float(match.group(1))


def check_not_silent(path, threshold_db=SILENCE_DB):
    """Raise InputError when the audio track of ``path`` is silent as a whole; returns its RMS level (dBFS)."""
    level = audio_level_db(path)
    if level < threshold_db:
        raise InputError(path, f"the audio track is silent (RMS {level:.1f} dBFS < {threshold_db:.0f} dBFS): "
                               "a muted recording has no speech to learn gestures from")
    return level


def decode_audio(path, rate, on_timeline=False):
    """The first audio track of any file ffmpeg reads (audio or video) as mono float32 samples at ``rate`` Hz.

    ``on_timeline``: sample 0 is the file's start time (probe's ``start``), not the track's first sample: a track
    that starts later is preceded by silence, a gap in its timestamps is filled, and the samples an AAC encoder
    primes the track with sit before its start (``aresample=async=1:first_pts=0``)."""
    timeline = ["-af", "aresample=async=1:first_pts=0"] if on_timeline else []
    raw = run_ffmpeg(["-i", path, "-map", "0:a:0", "-vn", *timeline, "-ac", "1", "-ar", rate, "-f", "f32le", "-"],
                     path, "audio decoding")
    audio = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if audio.size == 0:
        raise InputError(path, "the audio has no samples")
    return audio


def read_audio(video, rate):
    """The first audio track of ``video`` as mono float32 samples at ``rate`` Hz (ffmpeg resamples), aligned with its
    frames: sample 0 is the instant of the first video frame, whatever the two streams' start times (an edit list,
    a phone's or screen recorder's offset, a re-muxed file, the AAC encoder's priming samples).  Audio that starts
    after the first frame is preceded by silence; audio before it is cut."""
    info = probe(video)  # names the file if it is unreadable or has no audio
    audio = decode_audio(video, rate, on_timeline=True)  # sample 0 at the file's start time
    lead = int(round((info["video_start"] - info["start"]) * rate))  # samples before the first frame
    if abs(info["audio_start"] - info["video_start"]) > 0.005:  # half a mel hop (160 samples at 16 kHz)
        log.info("%s: the audio stream starts at %.3f s, the picture at %.3f s: the streams' start times are "
                 "aligned (whether the speech is in sync with the mouth is measured by generate_clips)", video,
                 info["audio_start"], info["video_start"])
    return audio[lead:]


def is_silent(audio, threshold=1e-3):
    """True when the RMS of ``audio`` (float samples in [-1, 1]) is below ``threshold`` (1e-3 = -60 dBFS)."""
    audio = np.asarray(audio, dtype=np.float64)
    return audio.size == 0 or float(np.sqrt(np.mean(audio**2))) < threshold


def speak(text, speed, pitch, espeak="espeak-ng", voice="en-us"):
    """One sentence from espeak-ng: (float32 mono samples, sample rate)."""
    cmd = [espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text]
    try:
        proc = subprocess.run(cmd, capture_output=True)
    except FileNotFoundError as e:
        raise RuntimeError(f"{espeak} is not installed: apt-get install espeak-ng (envs/setup.sh does)") from e
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(f"espeak-ng failed on {text!r}: {stderr_tail(proc.stderr)}")
    samples, rate = soundfile.read(io.BytesIO(proc.stdout), dtype="float32")
    return samples, rate
