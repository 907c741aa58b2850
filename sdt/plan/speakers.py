"""Where a speaker's clips come from: a folder of videos, the bundled sample speaker, or the authors' released data
(exactly one per speaker; docs/dataset.md).  The ``{video}`` wildcard values of a speaker and their source files."""

from pathlib import Path

from sdt.plan.config import ConfigError

SOURCES = ("videos", "released", "sample")
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")  # config/README.md lists the same
RELEASED_INDEX = "processed_137.csv"  # the release's clip table in a released speaker's folder


def kind(entry):
    """'videos', 'released' or 'sample' of a speaker's config entry."""
    return next(k for k in SOURCES if k in entry)


def video_files(name, entry):
    """{video wildcard: source file} of a speaker from a folder of videos: every file with a video extension,
    named by its stem.  Errors name the speaker and the folder."""
    folder = Path(entry["videos"])
    if not folder.is_dir():
        raise ConfigError(f"speaker '{name}': videos folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if not files:
        raise ConfigError(f"speaker '{name}': no video files ({', '.join(VIDEO_EXTENSIONS)}) in {folder}")
    stems = [p.stem for p in files]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise ConfigError(f"speaker '{name}': several files share the name {clash} in {folder}")
    return {p.stem: str(p) for p in files}


def sample_videos(count):
    """The sample speaker's video names: sample00, sample01, ..."""
    return [f"sample{i:02d}" for i in range(count)]
