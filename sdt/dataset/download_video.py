"""Rule download_video: one link of a speaker's link list downloaded with yt-dlp (docs/dataset.md §6), and the link
lists that name them.

A link list (``links:`` of a speaker) is either one URL a line (blank lines and ``#`` comments skipped) or a csv
with a ``url`` column and optionally ``id`` (the download's name), and the interval columns of
sdt.dataset.cut_interval (``start_time``, ``end_time``, ``interval_id``, ``dataset``): then each row is one interval
of its link's download, and rows of the same url share one download.  A download's name is ``id`` or the last part
of the url's path without its extension, sanitised like a file name's.

A download is written under a temporary name and renamed when complete, with a sidecar json beside it recording
the link, the file's SHA-256 and its size; a link that fails is an error naming it (other links' jobs go on under
``--keep-going``).
"""

import json
import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from sdt.dataset.cut_interval import interval_of, table_rows
from sdt.errors import InputError
from sdt.io import sha256, write_text

log = logging.getLogger(__name__)


def link_name(url, n):
    """The default name of the ``n``-th link: its path's last part without the extension."""
    return Path(unquote(urlparse(url).path)).stem or f"link{n}"


def read_links(path, speaker=None, sanitise=str):
    """({name: url}, [Interval]) of a link list; the intervals' ``video_fn`` is their download's name ([] when the
    list has no times).  A csv's link column is ``url`` or Speech2Gesture's ``video_link``, its rows of another
    ``speaker`` skipped, so ``intervals_df.csv`` itself is a link list.  Errors name the list and its line."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise InputError(path, f"cannot read the link list ({e})") from e
    header = [c.strip() for c in next((line for line in text.splitlines() if line.strip()), "").split(",")]
    column = next((c for c in ("url", "video_link") if c in header), None)
    if column:
        lines = table_rows(path, speaker, required=(), what="link list")
    else:
        lines = [(f"{path} line {i + 1}", {"url": line.strip()}) for i, line in enumerate(text.splitlines())
                 if line.strip() and not line.strip().startswith("#")]
        column = "url"
    links, intervals, seen = {}, [], {}
    for n, (where, row) in enumerate(lines):
        url = row[column].strip()
        if urlparse(url).scheme not in ("http", "https"):
            raise InputError(where, f"not an http(s) link: {url!r}")
        name = sanitise(row.get("id") or Path(row.get("video_fn", "")).stem or link_name(url, n))
        if links.get(name, url) != url:
            raise InputError(where, f"{url} and {links[name]} would share the name {name!r}: give an id column")
        links[name] = url
        if row.get("start_time"):
            intervals.append(interval_of(row, where, name, seen, sanitise))
    if not links:
        raise InputError(path, "the link list has no links")
    return links, intervals


def download_video(url, dst, record):
    """Download ``url`` to ``dst`` with yt-dlp; ``record`` (json) gets the link, SHA-256 and size.  A failure is an
    InputError naming the link, leaving neither file."""
    import yt_dlp

    dst, record = Path(dst), Path(record)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dst.parent, prefix=f".{dst.name}.") as tmp:
        options = {"outtmpl": f"{tmp}/video.%(ext)s", "quiet": True, "no_warnings": True, "noprogress": True,
                   "noplaylist": True, "retries": 2, "format": "best[ext=mp4]/best", "logger": log}
        try:
            with yt_dlp.YoutubeDL(options) as ydl:
                ydl.download([url])
        except yt_dlp.utils.DownloadError as e:
            raise InputError(url, f"download failed: {e}") from None
        files = [p for p in Path(tmp).iterdir() if p.name.startswith("video.")]
        if len(files) != 1:
            raise InputError(url, f"download failed: yt-dlp wrote {[p.name for p in files]}")
        digest, size = sha256(files[0]), files[0].stat().st_size
        os.replace(files[0], dst)
    write_text(record, json.dumps({"url": url, "sha256": digest, "bytes": size}, indent=1) + "\n")
    log.info("%s -> %s: %d bytes, sha256 %s", url, dst, size, digest)
    return digest
