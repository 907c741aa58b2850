"""sdt.plan: every decision the rules take, tested on config dicts (no Snakemake run)."""

import copy
import hashlib
import json
import os
import shutil
import subprocess

import pytest
import yaml
from conftest import REPO

from sdt import settings
from sdt.dataset.settings import DatasetSettings, SampleSettings
from sdt.demo.settings import DemoSettings
from sdt.evaluate.settings import EvalSettings
from sdt.plan import Plan
from sdt.plan.config import SECTIONS, ConfigError, schema, typed
from sdt.plan.speakers import invoked_as_dry_run
from sdt.train.config import SPEED_ONLY, TrainSettings

CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def plan(workdir=".", **sections):
    """The plan of config.yaml with ``sections`` replacing (speakers) or updating (the others) its sections."""
    config = copy.deepcopy(CONFIG)
    for key, value in sections.items():
        config[key] = value if key == "speakers" or not isinstance(value, dict) else {**config.get(key, {}), **value}
    return Plan(config, REPO, workdir)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    for name in ("talk1.mp4", "talk2.MOV", "notes.txt"):
        (folder / name).write_bytes(b"")
    return folder


def test_the_main_jobs_targets():
    p = plan()
    assert p.describe() == ["speaker sample (sample): training preset quick: 8 epochs x 16 steps of 8 clips per model"]
    models = [f"results/sample/models/{m}.pt" for m in ("pose_vae", "s2g", "sdt_bp", "sdt_vae")]
    evaluations = [f"results/sample/evaluation/{m}.json" for m in ("ground_truth", "mean_pose", "s2g", "sdt_bp",
                                                                   "sdt_vae")]
    assert p.targets() == [
        "results/sample/stats.npz", "results/sample/qc.csv", "results/sample/plots/sample_qc.png", *models,
        *evaluations, "results/tables/paper_tables.md", "results/tables/paper_tables.html",
        "results/tables/evaluations.md", "results/sample/demo/sdt_vae.mp4", "results/sample/render/sdt_vae.mp4",
        "results/sample/plots/templates.png", "results/sample/plots/training.png"]


def test_speakers_and_their_videos(videos):
    p = plan(speakers={"me": {"videos": str(videos)}, "sample": {"sample": True}, "oliver": {"released": "/d/oliver"}})
    assert p.videos("me") == ["talk1", "talk2"] and p.user_video("me", "talk2") == str(videos / "talk2.MOV")
    assert p.source_video("me", "talk2") == ("results/me/source/talk2.link", True)  # read by content, not mtime
    assert p.videos("sample") == ["sample00", "sample01", "sample02"] and p.videos("oliver") == []
    assert p.source_video("sample", "sample01") == ("results/sample/source/sample01.mp4", False)
    assert p.released_index("oliver") == "/d/oliver/processed_137.csv"
    assert p.speakers_of("videos", "sample") == "me|sample" and p.speakers_of("released") == "oliver"
    assert plan().speakers_of("released") == "(?!)"  # a rule without jobs
    assert (p.scale_rule("me"), p.scale_rule("oliver")) == ("rescaled_to_oliver", "released")
    assert plan(dataset={"rescale_shoulders": False}).scale_rule("sample") == "shoulder_width"
    # the first speaker's demo; the reference rows and methods of every speaker
    assert p.targets()[-4:-2] == ["results/me/demo/sdt_vae.mp4", "results/me/render/sdt_vae.mp4"]
    assert "results/oliver/qc.csv" not in p.targets() and "results/oliver/evaluation/mean_pose.json" in p.targets()


def test_an_interval_table_makes_each_row_a_video(videos, tmp_path):
    table = tmp_path / "intervals_df.csv"
    table.write_text("speaker,video_fn,start_time,end_time,interval_id,dataset\n"
                     "me,talk1.mp4,00:00:01.500000,00:00:09,a,train\nme,talk1,12,20,b,dev\n"
                     "me,talk1.mp4,30,40,c,test\nbob,talk2.mp4,0,5,d,train\n")
    p = plan(speakers={"me": {"videos": str(videos), "intervals": str(table)}})
    assert p.videos("me") == ["a", "b"]  # the test interval is held out; bob's row is another speaker's
    assert p.source_files("me") == {"talk1": str(videos / "talk1.mp4")}  # only the files the table cuts from
    assert p.source_video("me", "a") == ("results/me/intervals/a.mp4", False) and p.identity_file("me", "a") is None
    job = p.interval("me", "b")
    assert (job["video"], job["by_content"], job["identity"]) == (
        "results/me/source/talk1.link", True, "results/me/source/talk1.identity")
    assert (job["start"], job["end"], job["row"]) == (12.0, 20.0, "speaker me's interval 'b'")
    assert job["source"] == f"sha256:{hashlib.sha256(b'').hexdigest()} bytes:0"
    assert p.interval_splits("me") == {"a": "train", "b": "dev"}
    assert p.interval_speakers() == "me" and plan().interval_speakers() == "(?!)"
    with pytest.raises(ConfigError, match="speaker 'me' has no interval 'zz'"):
        p.interval("me", "zz")
    table.write_text("video_fn,start_time,end_time\nnone.mp4,0,5\n")
    with pytest.raises(ConfigError, match=r"speaker 'me': .*line 2: video_fn 'none.mp4' is not in"):
        plan(speakers={"me": {"videos": str(videos), "intervals": str(table)}}).videos("me")


def test_a_link_list_makes_each_link_or_interval_a_video(tmp_path):
    links = tmp_path / "links.csv"
    links.write_text("url,start_time,end_time,interval_id\nhttp://h/show.mp4,0,5,a\nhttp://h/show.mp4,6,9,b\n")
    p = plan(speakers={"web": {"links": str(links)}})
    assert p.kind("web") == "links" and p.videos("web") == ["a", "b"] and p.links("web") == {"show": "http://h/show.mp4"}
    job = p.interval("web", "b")
    assert (job["video"], job["by_content"], job["identity"], job["source"]) == (
        "results/web/download/show.mp4", False, None, "http://h/show.mp4")
    links.write_text("http://h/x.mp4\n")
    p = plan(speakers={"web": {"links": str(links)}})
    assert p.videos("web") == ["x"] and p.source_video("web", "x") == ("results/web/download/x.mp4", False)
    assert p.download("web", "x")[1] == "results/web/download/x.json"


@pytest.mark.parametrize("entry, problem", [
    ({"videos": "/no/such/folder"}, "does not exist"),
    ({"videos": str(REPO / "docs")}, "no video files"),
])
def test_bad_video_folders_are_named(entry, problem):
    with pytest.raises(ConfigError, match=problem):
        plan(speakers={"me": entry}).videos("me")


def test_any_file_name_is_a_video_name_or_refused_naming_the_file(tmp_path, monkeypatch):
    """Braces would be read as wildcards by Snakemake (issue: ``talk {draft}.mp4`` crashed naming no file)."""
    folder = tmp_path / "my videos"
    folder.mkdir()
    for name in ("talk {draft}.mp4", "a\tb.mp4", "été, 'quoted' & $x.mkv", ".hidden.mp4"):
        (folder / name).write_bytes(b"")
    p = plan(speakers={"me": {"videos": str(folder)}})
    assert p.videos("me") == ["a_b", "talk (draft)", "été, 'quoted' & $x"]
    assert p.user_video("me", "talk (draft)") == str(folder / "talk {draft}.mp4")
    (folder / "talk (draft).mov").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"talk \(draft\).mov.*talk \{draft\}.mp4.*share the name"):
        plan(speakers={"me": {"videos": str(folder)}}).videos("me")
    monkeypatch.setenv("HOME", str(tmp_path))
    (folder / "talk (draft).mov").unlink()
    assert plan(speakers={"me": {"videos": "~/my videos"}}).user_video("me", "a_b") == str(folder / "a\tb.mp4")


def test_a_videos_identity_is_its_content(tmp_path):
    """cp -p keeps the mtime of a replaced file; a copied folder has new mtimes but the same content."""
    folder, copy_ = tmp_path / "videos", tmp_path / "copy"
    folder.mkdir()
    (folder / "talk.mp4").write_bytes(b"first take")
    p = plan(tmp_path, speakers={"me": {"videos": str(folder)}})
    first = p.source_identity("me", "talk")
    assert first == f"sha256:{hashlib.sha256(b'first take').hexdigest()} bytes:10"
    (tmp_path / "other.mp4").write_bytes(b"second take")
    os.utime(tmp_path / "other.mp4", ns=(1, 1))
    subprocess.run(["cp", "-p", str(tmp_path / "other.mp4"), str(folder / "talk.mp4")], check=True)
    assert (folder / "talk.mp4").stat().st_mtime_ns == 1  # older than before, as with cp -p, rsync -a, unzip
    again = plan(tmp_path, speakers={"me": {"videos": str(folder)}})
    assert again.source_identity("me", "talk") == f"sha256:{hashlib.sha256(b'second take').hexdigest()} bytes:11"
    shutil.copytree(folder, copy_)
    assert plan(tmp_path, speakers={"me": {"videos": str(copy_)}}).source_identity("me", "talk") == \
        again.source_identity("me", "talk")
    cache = json.loads((tmp_path / ".snakemake" / "sdt_content_ids.json").read_text())
    assert len(cache) == 2  # one version per file: the replaced one's entry is gone
    assert plan(tmp_path).source_identity("sample", "sample00") == ""  # the workflow makes the sample's videos
    # the stamp whose mtime marks the last change of content: rewritten for a new take, not for a moved folder
    stamp = tmp_path / again.identity_file("me", "talk")
    again.write_stamps()
    os.utime(stamp, ns=(1, 1))
    plan(tmp_path, speakers={"me": {"videos": str(copy_)}}).write_stamps()
    assert stamp.stat().st_mtime_ns == 1 and stamp.read_text() == again.source_identity("me", "talk") + "\n"
    (copy_ / "talk.mp4").write_bytes(b"third take")
    plan(tmp_path, speakers={"me": {"videos": str(copy_)}}).write_stamps()
    assert stamp.stat().st_mtime_ns > 1 and "bytes:10" in stamp.read_text()


def test_manifests_change_only_with_the_list_of_videos(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (folder / name).write_bytes(b"")
    speakers = {"me": {"videos": str(folder)}, "sample": {"sample": True}}
    plan(tmp_path, speakers=speakers).write_stamps(dry_run=lambda: True)  # missing ones: even in a dry run
    manifest = tmp_path / "results" / "me" / "videos.txt"
    assert manifest.read_text() == "a\nb\n" and (tmp_path / "results/sample/videos.txt").read_text().count("\n") == 3
    os.utime(manifest, ns=(1, 1))
    plan(tmp_path, speakers=speakers).write_stamps()
    assert manifest.stat().st_mtime_ns == 1  # the same list: untouched, nothing reruns
    (folder / "b.mp4").unlink()
    assert manifest in plan(tmp_path, speakers=speakers).write_stamps(dry_run=lambda: True)
    assert manifest.read_text() == "a\nb\n"  # a dry run previews: it marks nothing stale
    plan(tmp_path, speakers=speakers).write_stamps()
    assert manifest.read_text() == "a\n" and manifest.stat().st_mtime_ns > 1


@pytest.mark.parametrize("argv, dry", [(["-n", "-c1"], True), (["-np", "all"], True), (["--dry-run"], True),
                                       (["-c", "2", "results/x"], False), (["--cores", "1", "-k"], False)])
def test_dry_runs_are_recognised_on_the_command_line(argv, dry):
    assert invoked_as_dry_run(argv) == dry


def test_presets_per_speaker(videos):
    p = plan(speakers={"sample": {"sample": True}, "me": {"videos": str(videos)},
                       "you": {"videos": str(videos), "preset": "quick"}})
    assert p.presets == {"sample": "quick", "me": "release", "you": "quick"}
    assert p.train["me"] == TrainSettings()  # the release's settings: no overrides
    you = p.train["you"]  # quick: the release's learning rate, never decayed; the table's 100x (docs/training.md §11)
    assert (you.epochs, you.lr, you.milestones(), you.template_lr_scale) == (8, 1e-4, [], 100)
    with pytest.raises(ConfigError, match="preset 'fast' is not 'release' nor one of"):
        plan(train={"preset": "fast"})


def test_each_training_job_gets_only_the_settings_its_method_uses():
    p = plan(train={"preset": "release"})
    params = {m: p.train_params("sample", m) for m in ("pose_vae", "s2g", "sdt_bp", "sdt_vae", "moglow")}
    assert "vae_kl_weight" in params["pose_vae"] and not any("vae_kl_weight" in params[m] for m in params
                                                              if m != "pose_vae")
    assert [m for m in params if "template_kl_weight" in params[m]] == ["sdt_bp"]  # learned templates only
    assert [m for m in params if "template_dim" in params[m]] == ["pose_vae", "sdt_bp", "sdt_vae"]
    assert [m for m in params if "ftd_global_input" in params[m]] == ["s2g"]  # global poses: two FTD inputs
    assert not any(k in params[m] for m in params for k in SPEED_ONLY)  # those are resources: they rerun nothing
    resources = p.train_resources("sample")
    assert resources == {"gpu": 1, "checkpoint_every": 1, "num_workers": 0, "video_format": "mp4",
                         "video_train_clips": 2, "video_dev_clips": 8}
    job = TrainSettings.from_job(params["sdt_bp"], resources)  # what the training script rebuilds
    assert job == TrainSettings(ftd_global_input="release")
    assert plan(train={"video_format": []}).train_resources("sample")["video_format"] == "none"
    assert TrainSettings.from_job(params["sdt_bp"], {**resources, "video_format": "none"}).video_format == ()


def test_each_evaluation_depends_on_its_own_settings():
    p = plan()
    assert p.evaluate_settings("mean_pose") == {"pck_threshold": 0.2, "batch_size": 64}
    assert set(p.evaluate_settings("s2g")) == {"pck_threshold", "diversity_samples", "ftd_global_input", "batch_size"}
    assert set(p.evaluate_settings("sdt_bp")) == {"pck_threshold", "diversity_samples", "seeds", "template",
                                                  "batch_size"}
    assert set(p.evaluate_settings("moglow")) == {"pck_threshold", "diversity_samples", "seeds", "temperature",
                                                  "batch_size"}  # its family samples at a temperature
    assert p.sampling_temperature("moglow") == 1.0 and p.sampling_temperature("sdt_vae") is None
    assert p.evaluate_gpus("ground_truth") == 0 and p.evaluate_gpus("s2g") == 1
    assert p.evaluate_method("mean_pose") == "mean_pose"
    assert p.evaluate_method("s2g") == {"name": "s2g", "family": "unet", "norm": "BN", "poses": "global",
                                        "template": "none", "gan_weight": 0.1, "net": {}}


def test_given_checkpoints_replace_training():
    given = {"pose_vae": "/c/vae.pth", "sdt_vae": "/c/sdt_vae.pth"}
    p = plan(evaluate={"checkpoints": {"sample": given}})
    assert p.trained_methods("sample") == ["s2g", "sdt_bp"]
    assert p.checkpoint("sample", "sdt_vae") == "/c/sdt_vae.pth"
    assert p.checkpoint("sample", "sdt_bp") == "results/sample/models/sdt_bp.pt"
    assert p.model_inputs("sample", "sdt_vae")["pose_vae"] == "/c/vae.pth"  # its templates: the VAE's clip means
    assert "pose_vae" not in p.model_inputs("sample", "sdt_bp")
    assert p.train_inputs("sample", "sdt_bp")["ftd_vae"] == "/c/vae.pth"  # validation's FTD: evaluate's VAE
    assert p.evaluate_inputs("sample", "mean_pose")["pose_vae"] == "/c/vae.pth"
    assert p.training_histories("sample") == ["results/sample/train/s2g/history.csv",
                                              "results/sample/train/sdt_bp/history.csv"]
    with pytest.raises(ConfigError, match="gives sdt_vae but no pose_vae"):
        plan(evaluate={"checkpoints": {"sample": {"sdt_vae": "/c/sdt_vae.pth"}}})
    with pytest.raises(ConfigError, match="names speaker 'bob'"):
        plan(evaluate={"checkpoints": {"bob": {"pose_vae": "/c/vae.pth"}}})


def test_training_inputs():
    p = plan(train={"init_from": {"sample": {"sdt_bp": "/m/oliver_sdt_bp.pth"}}})
    bp, vae = p.train_inputs("sample", "sdt_bp"), p.train_inputs("sample", "sdt_vae")
    assert bp["init_from"] == "/m/oliver_sdt_bp.pth" and "init_from" not in vae
    assert vae["pose_vae"] == "results/sample/models/pose_vae.pt" and "pose_vae" not in bp  # SDT-VAE's templates
    assert "ftd_vae" not in p.train_inputs("sample", "pose_vae")
    assert "ftd_vae" not in plan(train={"validate_ftd": False, "preset": "release"}).train_inputs("sample", "s2g")


def test_methods_of_the_config():
    p = plan(methods={"tiny_flow": {"family": "moglow", "net": {"hidden": 8}}},
             evaluate={"methods": ["sdt_bp", "tiny_flow"]})
    assert p.family_methods("moglow") == "moglow|tiny_flow" and p.family_methods("pose_vae") == "pose_vae"
    assert p.trained_methods("sample") == ["pose_vae", "sdt_bp", "tiny_flow"]
    assert p.labels(["sdt_bp", "tiny_flow"]) == {"sdt_bp": "SDT-BP", "tiny_flow": "tiny_flow"}
    assert p.template_methods("sample") == ["sdt_bp"]
    for key, value, problem in [("evaluate", {"methods": ["sdt_pb"]}, "evaluate.methods: unknown method 'sdt_pb'"),
                                ("demo", {"method": "nope"}, "demo.method: unknown method 'nope'"),
                                ("methods", {"s2g": {"family": "unet"}}, "'s2g' is taken")]:
        with pytest.raises(ConfigError, match=problem):
            plan(**{key: value})


def test_demo_speech():
    assert plan().demo_audio("sample") == "results/demo/speech.wav"  # espeak-ng, with the sample speaker
    p = plan(speakers={"oliver": {"released": "/d/oliver"}})
    assert p.demo_audio("oliver") == "results/oliver/demo/dev_speech.wav"  # real data needs no espeak-ng
    assert plan(demo_audio=str(REPO / "README.md")).demo_audio("sample") == str(REPO / "README.md")
    with pytest.raises(ConfigError, match="demo audio /no/talk.wav does not exist"):
        plan(demo={"audio": "/no/talk.wav"})


def test_code_digests_follow_each_familys_code():
    p = plan()
    assert p.method_code("evaluate", "mean_pose") == p.code("evaluate")  # a reference row runs no network
    unet = {p.method_code("evaluate", m) for m in ("s2g", "sdt_bp", "sdt_vae")}
    assert len(unet) == 1 and p.method_code("evaluate", "moglow") not in unet
    assert p.code("train", "pose_vae") != p.code("train", "unet")


@pytest.mark.parametrize("change, message", [
    ({"train": {"epoch": 3}}, "config: train: Additional properties are not allowed ('epoch' was unexpected)"),
    ({"train": {"epochs": 0}}, "config: train.epochs: 0 is less than the minimum of 1"),
    ({"evaluate": {"template": "best"}}, "config: evaluate.template: 'best' is not one of"),
    ({"speakers": {"me": {"videos": "/v", "sample": True}}}, "config: speakers.me: give exactly one of videos, links,"),
    ({"speakers": {"me": {"links": "/v", "intervals": "/t"}}}, "config: speakers.me: 'videos' is a dependency of"),
    ({"dataset": {"fps": 25}}, "dataset.fps = 25: this value is fixed at 15"),
    ({"methods": {"mine": {"family": "gan"}}}, "config: methods.mine.family: 'gan' is not one of"),
    ({"train_presets": {"mine": {"gpus": 2}}}, "config: train_presets.mine: 'gpus' is not one of"),
])
def test_config_errors_are_one_line_naming_the_key(change, message):
    with pytest.raises(ConfigError) as err:
        plan(**change)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_command_line_values_are_typed_by_the_schema():
    full = schema(REPO)
    assert typed({"dataset": {"clip_stride": "6", "detector": "openpose"}, "evaluate": {"seeds": "[0, 1]"}}, full) \
        == {"dataset": {"clip_stride": 6, "detector": "openpose"}, "evaluate": {"seeds": [0, 1]}}
    assert plan(dataset={"clip_stride": "6"}).dataset.clip_stride == 6


def test_the_schema_takes_every_setting_from_its_dataclass():
    full = schema(REPO)["properties"]
    for name, cls in SECTIONS.items():
        props = full[name]["properties"]
        for f in settings.config_fields(cls):
            assert props[f.name]["default"] == settings.defaults(cls)[f.name], (name, f.name)
    assert "batch_size" not in full["evaluate"]["properties"]  # not a config key (no result depends on it)
    assert "ftd_global_input" not in full["train"]["properties"]  # evaluate's, handed to training
    assert full["train_presets"]["additionalProperties"]["propertyNames"]["enum"] == [
        f.name for f in settings.config_fields(TrainSettings)]


@pytest.mark.parametrize("section, cls", [("dataset", DatasetSettings), ("sample", SampleSettings),
                                          ("train", TrainSettings), ("evaluate", EvalSettings),
                                          ("demo", DemoSettings)])
def test_config_yaml_shows_the_defaults(section, cls):
    """config/config.yaml writes each setting at its default (its one home: the dataclass); the fixed ones
    (dataset.fps, clip_frames, audio_rate) only in a comment."""
    fixed = {k for k, v in settings.properties(cls).items() if "const" in v}
    shown = {k: v for k, v in CONFIG[section].items() if k in settings.defaults(cls)}
    assert shown == {k: v for k, v in settings.defaults(cls).items() if k not in fixed}


def test_snakemake_version_is_one_fact():
    import re

    pin = re.search(r'"snakemake>=(\d+)"', (REPO / "pyproject.toml").read_text()).group(1)
    assert f'min_version("{pin}.0")' in (REPO / "Snakefile").read_text()
