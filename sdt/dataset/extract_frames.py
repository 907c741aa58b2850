"""Rule extract_frames: every frame of the fps-converted video as JPEG + meta.json (docs/dataset.md §7)."""

import json
import logging
from pathlib import Path

from sdt.dataset.settings import DATASET
from sdt.errors import InputError
from sdt.io import atomic_dir
from sdt.media import probe, run_ffmpeg

log = logging.getLogger(__name__)


def extract_frames(video, out_dir, threads=0, frame_height=DATASET.frame_height):
    """Every frame of ``video`` as ``out_dir/000000.jpg, ...`` (frame i at t = i / fps) plus ``meta.json``
    {"fps", "width", "height" (of the JPEGs), "n_frames", "video_width", "video_height"}, which
    sdt.dataset.detect_keypoints.list_frames reads and checks.  A video taller than ``frame_height`` lines (> 0) is
    scaled down to it (area averaging, the aspect kept); detection then maps its keypoints back to the video's
    pixels (dataset.frame_height: 4K frames take ~380 kB each, 1080-line ones 150 kB).

    JPEG quality ``-q:v 2`` (about 100 kB a 1280x720 frame; PNG would be 12x larger and 6x slower to write).
    The folder is built under a temporary name and renamed when complete, so a half folder never appears.
    """
    info = probe(video, require_audio=False)
    scale = 0 < frame_height < info["height"]
    width = int(round(info["width"] * frame_height / info["height"] / 2)) * 2 if scale else info["width"]
    height = frame_height if scale else info["height"]
    resize = ["-vf", f"scale={width}:{height}:flags=area"] if scale else []
    with atomic_dir(out_dir) as tmp:
        run_ffmpeg(["-i", video, "-map", f"0:{info['video_stream']}", "-fps_mode", "passthrough", *resize, "-q:v",
                    "2", "-start_number", "0", "-threads", threads, Path(tmp) / "%06d.jpg"], video, "frame extraction")
        n_frames = len(list(Path(tmp).glob("*.jpg")))
        if n_frames == 0:
            raise InputError(video, "no frames could be decoded")
        if n_frames != info["n_frames"]:
            log.warning("%s: %d frames extracted, the container says %d", video, n_frames, info["n_frames"])
        meta = {"fps": info["fps"], "width": width, "height": height, "n_frames": n_frames,
                "video_width": info["width"], "video_height": info["height"]}
        (Path(tmp) / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    log.info("%s: %d frames (%dx%d%s, %.3f fps) -> %s", video, n_frames, width, height,
             f", scaled down from {info['width']}x{info['height']}" if scale else "", info["fps"], out_dir)
    return meta
