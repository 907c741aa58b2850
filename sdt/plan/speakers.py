"""Where a speaker's clips come from: a folder of videos, the bundled sample speaker, or the authors' released data
(exactly one per speaker; docs/dataset.md).  The ``{video}`` wildcard values of a speaker, their source files and
the content identity of each source file."""

import contextlib
import io
import json
import os
import re
import sys
from pathlib import Path

from sdt.io import sha256, write_text
from sdt.plan.config import ConfigError

SOURCES = ("videos", "links", "released", "sample")
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")  # config/README.md lists the same
RELEASED_INDEX = "processed_137.csv"  # the release's clip table in a released speaker's folder
# Snakemake reads { and } in a path as a wildcard: a file name's braces become parentheses in its {video} value
# (every other character a file name may hold works in Snakemake's paths, tested); control characters become _
UNSAFE = {"{": "(", "}": ")"}


def kind(entry):
    """'videos', 'released' or 'sample' of a speaker's config entry."""
    return next(k for k in SOURCES if k in entry)


def folder(entry, key):
    """A folder or file of the config, ``~`` expanded."""
    return Path(os.path.expanduser(entry[key]))


def video_id(stem):
    """The {video} wildcard value of a file named ``stem`` (its name without the extension)."""
    return re.sub(r"[\x00-\x1f\x7f]", "_", "".join(UNSAFE.get(c, c) for c in stem))


def video_files(name, entry):
    """{video wildcard: source file} of a speaker from a folder of videos: every file with a video extension,
    named by its stem (:func:`video_id`).  Errors name the speaker, the folder and the files."""
    where = folder(entry, "videos")
    if not where.is_dir():
        raise ConfigError(f"speaker '{name}': videos folder {where} does not exist")
    files = sorted(p for p in where.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith("."))
    if not files:
        raise ConfigError(f"speaker '{name}': no video files ({', '.join(VIDEO_EXTENSIONS)}) in {where}")
    ids = {}
    for p in files:
        ids.setdefault(video_id(p.stem), []).append(p.name)
    clash = {k: v for k, v in ids.items() if len(v) > 1}
    if clash:
        k, v = next(iter(clash.items()))
        raise ConfigError(f"speaker '{name}': the files {v} in {where} would share the name {k!r}: rename one")
    return {video_id(p.stem): str(p) for p in files}


def interval_table(name, entry):
    """[Interval] of a speaker whose videos are cut from long files by an interval table (``intervals:`` beside
    ``videos:``; sdt.dataset.cut_interval), each with its source file: ``(interval, path)``.  A row whose
    ``video_fn`` is not in the videos folder is an error naming the row."""
    from sdt.dataset.cut_interval import read_intervals
    from sdt.errors import InputError

    files = video_files(name, entry)
    by_name = {Path(p).name: p for p in files.values()}
    try:
        rows = read_intervals(folder(entry, "intervals"), speaker=name, sanitise=video_id)
    except InputError as e:
        raise ConfigError(f"speaker '{name}': {e}") from None
    out = []
    for row in rows:
        path = by_name.get(row.video_fn) or files.get(video_id(Path(row.video_fn).stem))
        if path is None:
            raise ConfigError(f"speaker '{name}': {row.row}: video_fn {row.video_fn!r} is not in "
                              f"{folder(entry, 'videos')}")
        out.append((row, path))
    return out


def link_list(name, entry):
    """({download name: url}, [Interval]) of a speaker's link list (``links:``; sdt.dataset.download_video)."""
    from sdt.dataset.download_video import read_links
    from sdt.errors import InputError

    try:
        return read_links(folder(entry, "links"), speaker=name, sanitise=video_id)
    except InputError as e:
        raise ConfigError(f"speaker '{name}': {e}") from None


def link(source, path):
    """``path`` -> the absolute path of ``source``, replaced atomically when it points elsewhere (a link is never
    half made)."""
    source, path = Path(source).resolve(), Path(path)
    if path.is_symlink() and os.readlink(path) == str(source):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(source, tmp)
    os.replace(tmp, path)


def invoked_as_dry_run(argv=None):
    """Whether this snakemake command line (``sys.argv[1:]``) is a dry run (-n, -np, --dry-run, ...): the
    Snakefile is read before Snakemake tells it (its own argument parser decides)."""
    from snakemake.cli import get_argument_parser  # ~1 s: only asked when a manifest is stale

    argv = sys.argv[1:] if argv is None else argv
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # its usage message, for a command line it cannot read
            return bool(get_argument_parser().parse_known_args(argv)[0].dryrun)
    except SystemExit:  # not a snakemake command line (an API call, a test)
        return False


def sample_videos(count):
    """The sample speaker's video names: sample00, sample01, ..."""
    return [f"sample{i:02d}" for i in range(count)]


class ContentIds:
    """The content identity of source files: ``sha256:<hex> bytes:<n>``, so that a replaced file reruns its chain
    whatever its modification time (``cp -p``, ``rsync -a``, ``unzip``) and the same content under another path
    reruns nothing.  The hash is computed once per version of a file, a version being its (path, size, mtime,
    ctime, inode): ``cp -p`` keeps the mtime but not the ctime or the inode, which nobody can set.  The versions'
    hashes are kept in ``cache`` (a JSON file), written when a new one was computed."""

    def __init__(self, cache):
        self.cache = Path(cache)
        try:
            self.known = json.loads(self.cache.read_text())
        except (OSError, ValueError):
            self.known = {}
        self.changed = False

    def __call__(self, path):
        path = Path(path)
        st = path.stat()
        key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}"
        if key not in self.known:
            older = [k for k in self.known if k.split("|")[0] == str(path.resolve())]  # an earlier version's
            for k in older:
                del self.known[k]
            self.known[key] = f"sha256:{sha256(path)} bytes:{st.st_size}"
            self.changed = True
        return self.known[key]

    def save(self):
        if self.changed:
            write_text(self.cache, json.dumps(self.known, indent=0, sort_keys=True) + "\n")
            self.changed = False
