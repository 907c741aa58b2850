"""Rule change_fps: a source video re-encoded to constant dataset.fps with its audio kept (docs/dataset.md §7).

Bad input (unreadable file, no audio track, silent audio) is an InputError naming the file (sdt.media); a
variable-frame-rate video is converted with a warning in the log.
"""

import logging

from sdt.errors import InputError
from sdt.io import atomic_path
from sdt.media import check_not_silent, probe, run_ffmpeg

log = logging.getLogger(__name__)

TRUNCATED_S = 0.5  # output this much (+1 %) shorter than the source's video stream: a broken file
# x264 settings, chosen by measurement on the sample (44 s of 1280x720 25 fps -> 15 fps, one thread; benchmarks/
# README.md): preset veryfast runs at ~9x real time per core (fast: 4.5x, superfast 11x, ultrafast 16x) and writes
# the smallest file (0.9x fast's; ultrafast 4.2x).  Detection on its frames: complete person on the same frames,
# keypoints 0.6 px (median) from fast's, as superfast's and ultrafast's; CRF 18 is visually lossless.
X264 = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p")


def change_fps(src, dst, fps, threads=0):
    """Re-encode ``src`` to constant ``fps`` (H.264 yuv420p, square pixels, even size) with its audio kept.

    AAC audio is copied untouched; any other codec is re-encoded to AAC.  A VFR source is resampled to CFR by
    the fps filter (frames duplicated or dropped at their timestamps) with a warning.  ``threads`` 0 = ffmpeg's
    choice.  Written atomically: a failed conversion leaves no ``dst``.
    """
    info = probe(src)
    level = check_not_silent(src)
    if info["vfr"]:
        log.warning("%s has a variable frame rate (average %.3f fps): converting it to constant %s fps",
                    src, info["fps"], fps)
    log.info("%s: %dx%d, %.3f fps, %d frames, %.2f s, audio %s %d Hz at %.1f dBFS -> %s fps", src, info["width"],
             info["height"], info["fps"], info["n_frames"], info["duration"], info["audio_codec"],
             info["audio_rate"], level, fps)
    # square pixels and even sizes, which yuv420p H.264 needs
    vf = f"fps={fps},scale='trunc(iw*sar/2)*2':'trunc(ih/2)*2',setsar=1"
    audio = ["-c:a", "copy"] if info["audio_codec"] == "aac" else ["-c:a", "aac", "-b:a", "192k"]
    with atomic_path(dst, suffix=".mp4") as tmp:
        run_ffmpeg(["-i", src, "-map", f"0:{info['video_stream']}", "-map", "0:a:0", "-vf", vf, "-fps_mode", "cfr",
                    *X264, *audio, "-threads", threads, "-movflags", "+faststart", tmp], src,
                   f"conversion to {fps} fps")
        out = probe(tmp)
        if out["duration"] < info["duration"] - TRUNCATED_S - 0.01 * info["duration"]:
            raise InputError(src, f"truncated or corrupt video: only {out['duration']:.2f} s of its "
                                  f"{info['duration']:.2f} s could be decoded")
        if out["vfr"] or abs(out["fps"] - float(fps)) > 1e-3:
            raise RuntimeError(f"ffmpeg wrote {out['fps']:.4f} fps (vfr={out['vfr']}) instead of {fps} for {src}")
    log.info("wrote %s: %d frames, %.2f s", dst, out["n_frames"], out["duration"])
    return out
