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

import pandas as pd

from sdt.dataset.cut_interval import Interval, default_id, parse_time
from sdt.errors import InputError
from sdt.io import sha256, write_text

log = logging.getLogger(__name__)


def link_name(url, n):
    """The default name of the ``n``-th link: its path's last part without the extension."""
    return Path(unquote(urlparse(url).path)).stem or f"link{n}"


def read_links(path, sanitise=str):
    """({name: url}, [Interval]) of a link list; the intervals' ``video_fn`` is their download's name ([] when the
    list has no times).  Errors name the list and its line."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise InputError(path, f"cannot read the link list ({e})") from e
    first = next((line for line in text.splitlines() if line.strip()), "")
    if "url" in [c.strip() for c in first.split(",")]:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        lines = [(i + 2, row) for i, row in frame.iterrows()]  # line 1 is the header
    else:
        lines = [(i + 1, {"url": line.strip()}) for i, line in enumerate(text.splitlines())
                 if line.strip() and not line.strip().startswith("#")]
    links, intervals = {}, []
    for n, row in lines:
        where, url = f"{path} line {n}", row["url"].strip()
        if urlparse(url).scheme not in ("http", "https"):
            raise InputError(where, f"not an http(s) link: {url!r}")
        name = sanitise(row.get("id") or link_name(url, n))
        if links.get(name, url) != url:
            raise InputError(where, f"{url} and {links[name]} would share the name {name!r}: give an id column")
        links[name] = url
        if row.get("start_time"):
            try:
                start, end = parse_time(row["start_time"]), parse_time(row["end_time"])
            except ValueError as e:
                raise InputError(where, str(e)) from None
            ident = sanitise(row.get("interval_id") or default_id(name, start, end))
            intervals.append(Interval(ident, name, start, end, row.get("dataset") or None, where))
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
