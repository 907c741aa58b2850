"""Link lists, as the real workflow sees them: rule download_video fetches each link with yt-dlp from a local HTTP
server on 127.0.0.1 started here (never the internet), records the link and SHA-256, and a failing link is named
in the error without touching the others (--keep-going)."""

import functools
import http.server
import json
import threading

import pytest
from test_user_videos import lavfi_video
from workflow_helpers import SMALL_CONFIG, make_workdir, planned_jobs, snakemake

from sdt.dataset.download_video import read_links
from sdt.errors import InputError
from sdt.io import sha256
from sdt.media import probe
from sdt.plan.speakers import video_id


@pytest.fixture
def server(tmp_path):
    """http://127.0.0.1:<port>/ serving tmp_path/site (a 2 s mp4 as talk.mp4)."""
    site = tmp_path / "site"
    site.mkdir()
    lavfi_video(site / "talk.mp4", 2, 440)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", site
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.slow
def test_a_good_link_completes_and_a_bad_one_is_named(server, tmp_path):
    url, site = server
    links = tmp_path / "links.txt"
    links.write_text(f"# my speaker\n{url}/talk.mp4\n\n{url}/missing.mp4\n")
    table = tmp_path / "links.csv"  # an interval of the same link, for another speaker
    table.write_text(f"url,start_time,end_time,interval_id\n{url}/talk.mp4,0.4,1.6,part\n")
    speakers = {"web": {"links": str(links)}, "cut": {"links": str(table)}}
    work = make_workdir(tmp_path / "work", {**SMALL_CONFIG, "speakers": speakers})
    targets = ["results/web/fps/talk.mp4", "results/cut/fps/part.mp4", "results/web/fps/missing.mp4"]
    proc = snakemake(work, *targets, "--keep-going", check=False)
    assert proc.returncode != 0
    assert f"{url}/missing.mp4" in proc.output and "download failed" in proc.output
    record = json.loads((work / "results/web/download/talk.json").read_text())
    assert record == {"url": f"{url}/talk.mp4", "sha256": sha256(site / "talk.mp4"),
                      "bytes": (site / "talk.mp4").stat().st_size}
    assert sha256(work / "results/web/download/talk.mp4") == record["sha256"]
    assert probe(work / targets[0])["n_frames"] == 30  # the good link went on to change_fps
    assert probe(work / targets[1])["n_frames"] == 18  # its interval: 1.2 s at 15 fps, cut from the download
    assert sha256(work / "results/cut/download/talk.mp4") == record["sha256"]
    assert not (work / "results/web/download/missing.mp4").exists()
    assert planned_jobs(work, targets=targets[:2]) == {}  # cached: not downloaded again


def test_read_links_formats(tmp_path):
    plain = tmp_path / "l.txt"
    plain.write_text("http://h/a/talk%20one.mp4\n# skip\n\nhttps://h/b/x{1}.webm\n")
    assert read_links(plain, sanitise=video_id) == ({"talk one": "http://h/a/talk%20one.mp4", "x(1)": "https://h/b/x{1}.webm"},
                                           [])
    table = tmp_path / "l.csv"
    table.write_text("url,id,start_time,end_time,interval_id\nhttp://h/v.mp4,show,0:01,0:05,a\n"
                     "http://h/v.mp4,show,10,12.5,b\n")
    links, intervals = read_links(table)
    assert links == {"show": "http://h/v.mp4"}
    assert [(i.id, i.video_fn, i.start, i.end) for i in intervals] == [("a", "show", 1, 5), ("b", "show", 10, 12.5)]


@pytest.mark.parametrize("text, message", [("ftp://h/v.mp4\n", "line 1: not an http"),
                                           ("http://h/a/v.mp4\nhttp://h/b/v.mp4\n", "line 2: .* share the name 'v'"),
                                           ("# nothing\n", "no links")])
def test_read_links_errors(tmp_path, text, message):
    path = tmp_path / "l.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_links(path)


def test_speech2gestures_table_is_a_link_list(tmp_path):
    table = tmp_path / "intervals_df.csv"
    table.write_text("dataset,delta_time,end_time,interval_id,speaker,start_time,video_fn,video_link\n"
                     "train,4.0,0:00:09.0,10,oliver,0:00:05.0,show1.mp4,https://h/watch?v=abc\n"
                     "val,3.0,0:00:20.0,11,oliver,0:00:17.0,show1.mp4,https://h/watch?v=abc\n"
                     "test,3.0,0:00:03.0,12,kubinec,0:00:00.0,lec.mp4,https://h/watch?v=def\n")
    links, intervals = read_links(table, speaker="oliver")
    assert links == {"show1": "https://h/watch?v=abc"}
    assert [(i.id, i.video_fn, i.start, i.end, i.dataset) for i in intervals] == [
        ("10", "show1", 5.0, 9.0, "train"), ("11", "show1", 17.0, 20.0, "dev")]
