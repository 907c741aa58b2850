"""The plan of one workflow run: every decision the rules need, built once from the config when the workflow loads
(rules/common.smk adapts it to wildcards) and tested directly (tests/plan/).

It answers: which speakers, videos and methods there are and where their inputs come from; which settings each
job depends on (a training job gets only the settings its method uses, an evaluation only those its results
depend on, so changing one reruns exactly the jobs it affects); which checkpoint each model is (trained, or given
by evaluate.checkpoints); the code digest of each job (sdt.provenance); and the targets of the main job.
"""

from pathlib import Path

from sdt import settings
from sdt.constants import PAPER_RESULTS_CSV, RELEASE_STATS_JSON
from sdt.dataset.settings import DatasetSettings, SampleSettings
from sdt.demo.settings import DemoSettings
from sdt.evaluate.settings import EvalSettings
from sdt.families import family
from sdt.io import write_text
from sdt.methods import POSE_VAE, REFERENCES, catalogue
from sdt.plan import speakers as sources
from sdt.plan.config import ConfigError, load
from sdt.provenance import code_digest
from sdt.train.config import SPEED_ONLY, TrainSettings

NEVER = "(?!)"  # a wildcard regex that matches nothing (a rule with no jobs in this config)
AUTO_PRESETS = {"sample": "quick"}  # train.preset auto: the sample speaker's preset; every other speaker: release


class Plan:
    def __init__(self, config, basedir=".", workdir="."):
        """``basedir``: the workflow's folder (its config schema, scripts, shipped data); ``workdir``: where results
        go (the content identities of source videos are cached in its .snakemake/)."""
        self.basedir, self.workdir = Path(basedir), Path(workdir)
        self.content_ids = sources.ContentIds(self.workdir / ".snakemake" / "sdt_content_ids.json")
        self.config = load(config, basedir)
        c = self.config
        self.dataset = settings.build(DatasetSettings, c["dataset"])
        self.sample = settings.build(SampleSettings, c["sample"])
        self.demo = settings.build(DemoSettings, c["demo"])
        self.evaluation = EvalSettings.of({k: v for k, v in c["evaluate"].items() if k in _fields(EvalSettings)})
        self.speakers = dict(c["speakers"])
        self._intervals, self._link_lists = {}, {}
        try:
            self.methods = catalogue(c["methods"])  # every method a rule may build
        except ValueError as e:
            raise ConfigError(str(e)) from e
        self._check_names()
        self.presets = {s: self._preset(s) for s in self.speakers}
        self.train = {s: self._train_settings(s) for s in self.speakers}
        # the speech of every demo: --config demo_audio=..., else demo.audio, else made by a rule (demo_audio)
        self.demo_audio_file = c["demo_audio"] or self.demo.audio
        if self.demo_audio_file and not Path(self.demo_audio_file).is_file():  # else an older demo would stay
            raise ConfigError(f"demo audio {self.demo_audio_file} does not exist (config demo_audio / demo.audio)")

    # -- checks ----------------------------------------------------------------------------------------------------
    def _check_names(self):
        ev = self.config["evaluate"]
        asked = {"evaluate.methods": ev["methods"], "demo.method": [self.demo.method]}
        for speaker, names in ev["speaker_methods"].items():
            self._known_speaker(speaker, "evaluate.speaker_methods")
            asked[f"evaluate.speaker_methods.{speaker}"] = names
        for key, names in asked.items():
            unknown = [n for n in names if n not in self.methods]
            if unknown:
                raise ConfigError(f"{key}: unknown method {unknown[0]!r}; the methods are {', '.join(self.methods)} "
                                  "(add your own under methods:)")
        for speaker, given in ev["checkpoints"].items():
            self._known_speaker(speaker, "evaluate.checkpoints")
            if "sdt_vae" in given and POSE_VAE.name not in given:  # its templates are its VAE's clip means
                raise ConfigError(f"evaluate.checkpoints.{speaker} gives sdt_vae but no pose_vae: the authors' SDT-VAE "
                                  "takes its templates from the authors' pose VAE (module.clip_code_mu), so give "
                                  "that checkpoint too")

    def _known_speaker(self, speaker, key):
        if speaker not in self.speakers:
            raise ConfigError(f"{key} names speaker '{speaker}', which is not under speakers:")

    # -- speakers and their videos ----------------------------------------------------------------------------------
    def kind(self, speaker):
        """Where the speaker's clips come from: 'videos', 'released' or 'sample'."""
        return sources.kind(self.speakers[speaker])

    def speakers_of(self, *kinds):
        """Wildcard regex of the speakers of ``kinds`` (a rule that applies to them only)."""
        return "|".join(s for s in self.speakers if self.kind(s) in kinds) or NEVER

    def videos(self, speaker):
        """The {video} wildcard values of a speaker built from videos (raw or sample); none for released data."""
        kind = self.kind(speaker)
        if kind == "sample":
            return sources.sample_videos(self.sample.videos)
        if self.intervals(speaker):  # the table's intervals; test intervals are held out (not built at all)
            return [row.id for row, _ in self.intervals(speaker) if row.dataset != "test"]
        if kind == "links":
            return list(self.links(speaker))
        return list(sources.video_files(speaker, self.speakers[speaker])) if kind == "videos" else []

    def links(self, speaker):
        """{download name: url} of a speaker with a link list (read once; sdt.dataset.download_video)."""
        return self._links(speaker)[0]

    def _links(self, speaker):
        if speaker not in self._link_lists:
            self._link_lists[speaker] = sources.link_list(speaker, self.speakers[speaker])
        return self._link_lists[speaker]

    def download(self, speaker, video):
        """results/{speaker}/download/{video}.mp4 of a link, and its record (json: link, SHA-256, size)."""
        return f"results/{speaker}/download/{video}.mp4", f"results/{speaker}/download/{video}.json"

    def intervals(self, speaker):
        """[(Interval, source file)] of a speaker with an interval table (read once); [] otherwise."""
        if speaker not in self._intervals:
            entry = self.speakers[speaker]
            if self.kind(speaker) == "links":  # a link list's intervals cut its downloads
                found = [(row, self.download(speaker, row.video_fn)[0]) for row in self._links(speaker)[1]]
            else:
                found = sources.interval_table(speaker, entry) if "intervals" in entry else []
            self._intervals[speaker] = found
        return self._intervals[speaker]

    def source_files(self, speaker):
        """{name: file} of a user speaker's source files, each linked at results/{speaker}/source/{name}.link with
        its identity stamp beside it: the folder's videos, or those an interval table cuts from."""
        files = sources.video_files(speaker, self.speakers[speaker])
        if self.intervals(speaker):
            used = {path for _, path in self.intervals(speaker)}
            return {k: v for k, v in files.items() if v in used}
        return files

    def interval_speakers(self):
        """Wildcard regex of the speakers whose videos are intervals (an interval table or a link list's times)."""
        return "|".join(s for s in self.speakers if self.kind(s) in ("videos", "links") and self.intervals(s)) or NEVER

    def interval(self, speaker, video):
        """The cut_interval job of one interval: dict(video=its source (a user file's link, read by content, or a
        download), by_content, identity=the user file's identity stamp or None, source=its content identity or url,
        start, end, row) (sdt.dataset.cut_interval)."""
        found = [(r, p) for r, p in self.intervals(speaker) if r.id == video]
        if not found:
            raise ConfigError(f"speaker '{speaker}' has no interval {video!r} in its table")
        row, path = found[0]
        # the row named by its id, not its line: a row added above it must not rerun its cut (params are triggers)
        at = {"start": row.start, "end": row.end, "row": f"speaker {speaker}'s interval {row.id!r}"}
        if self.kind(speaker) == "links":
            return {"video": path, "by_content": False, "identity": None,
                    "source": self.links(speaker)[row.video_fn], **at}
        name = sources.video_id(Path(path).stem)
        return {"video": f"results/{speaker}/source/{name}.link", "by_content": True,
                "identity": f"results/{speaker}/source/{name}.identity", "source": self._identity(path), **at}

    def interval_splits(self, speaker):
        """{video: train | dev} from an interval table's dataset column (each interval's clips all go to its
        split); {} without one (the release's split of each video's clips: sdt.dataset.split_dataset)."""
        return {row.id: row.dataset for row, _ in self.intervals(speaker) if row.dataset in ("train", "dev")}

    def source_video(self, speaker, video):
        """(the raw video of one speaker's {video}, by_content).  The sample's is a workflow output (its mtime says
        when it changed); a user's file is reached through a link in results/ (made at load time,
        :meth:`write_stamps`) that change_fps reads with its mtime ignored (``by_content``): its content identity
        decides (:meth:`identity_file`, and :meth:`source_identity` as a param), so a replaced file reruns its chain
        whatever its mtime, the same files in another folder rerun nothing, and braces in the user's path never
        reach Snakemake (which reads them as wildcards)."""
        if self.kind(speaker) == "sample":
            return f"results/{speaker}/source/{video}.mp4", False
        if self.intervals(speaker):  # a workflow output too: cut_interval's
            return f"results/{speaker}/intervals/{video}.mp4", False
        if self.kind(speaker) == "links":  # download_video's
            return self.download(speaker, video)[0], False
        return f"results/{speaker}/source/{video}.link", True

    def user_video(self, speaker, video):
        """The user's file of a speaker's {video}."""
        return sources.video_files(speaker, self.speakers[speaker])[video]

    def source_identity(self, speaker, video):
        """The content identity of a user's video (``sha256:... bytes:...``, cached per file version); "" for the
        sample speaker, whose videos the workflow makes."""
        if self.kind(speaker) in ("sample", "links") or self.intervals(speaker):  # an interval's: interval()
            return ""
        return self._identity(self.user_video(speaker, video))

    def _identity(self, path):
        identity = self.content_ids(path)
        self.content_ids.save()
        return identity

    def identity_file(self, speaker, video):
        """results/{speaker}/source/{video}.identity: a user's video's :meth:`source_identity`, rewritten
        (:meth:`write_stamps`) only when the content changes: an input of change_fps whose mtime is that of the
        last change, so ``--rerun-triggers mtime`` sees a replaced file too; None for the sample."""
        if self.kind(speaker) in ("sample", "links") or self.intervals(speaker):
            return None
        return f"results/{speaker}/source/{video}.identity"

    def manifest(self, speaker):
        """results/{speaker}/videos.txt: the speaker's videos, one a line, rewritten (:meth:`write_stamps`) only
        when the list changes; an input of the per-speaker stages, so a video removed from the folder reruns them
        even under ``--rerun-triggers mtime`` (which sees no change of the input list)."""
        return f"results/{speaker}/videos.txt"

    def stamps(self):
        """{path: text} of every manifest and identity file of the speakers with videos."""
        out = {}
        for speaker in self.speakers:
            if self.kind(speaker) == "released":
                continue
            out[self.manifest(speaker)] = "".join(f"{v}\n" for v in self.videos(speaker))
            if self.kind(speaker) == "videos":
                out.update({f"results/{speaker}/source/{name}.identity": self._identity(path) + "\n"
                            for name, path in self.source_files(speaker).items()})
        return out

    def write_stamps(self, dry_run=lambda: False):
        """At load time: point each user video's link (:meth:`source_video`) at its file, and write each stamp
        (:meth:`stamps`) that differs from the file on disk: its mtime then marks the change.  A dry run
        (``dry_run()``, asked only when a stamp differs) writes only the missing stamps (Snakemake needs every input
        to exist): rewriting one would mark work stale for a change that was only previewed; links are read by
        content, so they are always kept current.  Returns the stamps that differ."""
        for speaker in self.speakers:
            if self.kind(speaker) == "videos":
                for name, path in self.source_files(speaker).items():
                    sources.link(path, self.workdir / f"results/{speaker}/source/{name}.link")
        stale = {}
        for rel, text in self.stamps().items():
            path = self.workdir / rel
            if not path.is_file() or path.read_text() != text:
                stale[path] = text
        dry = bool(stale) and dry_run()
        for path, text in stale.items():
            if not (dry and path.is_file()):
                write_text(path, text)
        return sorted(stale)

    def released_index(self, speaker):
        return f"{self.speakers[speaker]['released']}/{sources.RELEASED_INDEX}"

    def scale_rule(self, speaker):
        """How compute_stats sets the speaker's scale_factor (sdt.dataset.compute_stats)."""
        if self.kind(speaker) == "released":
            return "released"
        return "rescaled_to_oliver" if self.dataset.rescale_shoulders else "shoulder_width"

    def rescale_per(self, speaker):
        """One shoulder factor per 'video' or per 'shot' (dataset.rescale_per; auto: per shot for a speaker built
        from its own videos, whose shots zoom; per video, the release's rule, for the sample speaker)."""
        per = self.dataset.rescale_per
        if per == "auto":
            return "shot" if self.kind(speaker) == "videos" else "video"
        return per

    def stats_choice(self, speaker):
        return self.speakers[speaker].get("stats", "auto")

    @property
    def release_stats(self):
        return str(self.basedir / RELEASE_STATS_JSON)

    @property
    def paper_results(self):
        return str(self.basedir / PAPER_RESULTS_CSV)

    # -- training ---------------------------------------------------------------------------------------------------
    def _preset(self, speaker):
        """A speaker's own ``preset:``, else train.preset; ``auto``: quick for the bundled sample speaker (minutes
        on a CPU), release (no overrides) for every other."""
        name = self.speakers[speaker].get("preset") or self.config["train"]["preset"]
        if name == "auto":
            name = AUTO_PRESETS.get(self.kind(speaker), "release")
        if name != "release" and name not in self.config["train_presets"]:
            raise ConfigError(f"speaker '{speaker}': training preset '{name}' is not 'release' nor one of "
                              f"train_presets: {sorted(self.config['train_presets'])}")
        return name

    def _train_settings(self, speaker):
        section = self.config["train"]
        values = {k: v for k, v in section.items() if k in _fields(TrainSettings)}
        values.update(self.config["train_presets"].get(self.presets[speaker], {}))
        return TrainSettings.of({**values, "ftd_global_input": self.evaluation.ftd_global_input})

    def describe(self):
        """One line per speaker on where its clips come from and how its models train (logged at load)."""
        lines = []
        for s, t in self.train.items():
            lines.append(f"speaker {s} ({self.kind(s)}): training preset {self.presets[s]}: {t.epochs} epochs x "
                         f"{t.max_steps_per_epoch or 'all'} steps of {t.batch_size} clips per model")
        return lines

    def family_methods(self, name):
        """Wildcard regex of the methods of family ``name`` (its training rule trains them)."""
        return "|".join(m for m, d in self._all_methods().items() if d.family == name) or NEVER

    def _all_methods(self):
        return {POSE_VAE.name: POSE_VAE, **self.methods}

    def method(self, name):
        return self._all_methods()[name]

    def definition(self, name):
        """What defines method ``name``, with its name: a training param (only a change retrains it) and an
        evaluation param (checked against the model)."""
        return {"name": name, **self.method(name).definition()}

    def train_params(self, speaker, method):
        """The settings the training of ``method`` for ``speaker`` depends on (sdt.train.config)."""
        return self.train[speaker].params_for(self.method(method))

    TRAIN_RESOURCES = ("gpu", *SPEED_ONLY)

    def train_resources(self, speaker):
        """A training job's resources (:data:`TRAIN_RESOURCES`): its processes (train.gpus) and the speed-only
        settings, which rerun nothing (sdt.train.config)."""
        return {"gpu": self.config["train"]["gpus"], **self.train[speaker].resources()}

    def train_inputs(self, speaker, method):
        """The clips and statistics; the pose VAE of a method whose templates are its clip means (SDT-VAE); the pose
        VAE of validation's FTD (train.validate_ftd, audio-to-pose methods: the one evaluate uses); the model to
        fine-tune from (train.init_from: its content makes the job stale)."""
        chosen = self.method(method)
        files = {f"{split}_{kind}": f"results/{speaker}/dataset/{split}_{kind}.npy"
                 for split in ("train", "dev") for kind in ("poses", "audio")}
        files["stats"] = f"results/{speaker}/stats.npz"
        if chosen.template == "vae":
            files["pose_vae"] = f"results/{speaker}/models/{POSE_VAE.name}.pt"
        if chosen.audio_to_pose and self.train[speaker].validate_ftd:
            files["ftd_vae"] = self.checkpoint(speaker, POSE_VAE.name)
        source = self.config["train"]["init_from"].get(speaker, {}).get(method)
        if source:
            files["init_from"] = source
        return files

    # -- which models: trained, or given -----------------------------------------------------------------------------
    def speaker_methods(self, speaker):
        """The methods evaluated on ``speaker``: evaluate.methods, then its evaluate.speaker_methods."""
        ev = self.config["evaluate"]
        extra = ev["speaker_methods"].get(speaker, [])
        return [*ev["methods"], *(m for m in extra if m not in ev["methods"])]

    def checkpoint(self, speaker, method):
        """A checkpoint from evaluate.checkpoints (e.g. the authors' release), else the speaker's trained model."""
        return self.config["evaluate"]["checkpoints"].get(speaker, {}).get(method, f"results/{speaker}/models/"
                                                                                   f"{method}.pt")

    def replaced(self, speaker, method):
        """True when evaluate.checkpoints gives ``method``'s checkpoint for ``speaker``: it is not trained."""
        return method in self.config["evaluate"]["checkpoints"].get(speaker, {})

    def trained_methods(self, speaker):
        """The models trained for ``speaker``: the pose VAE (every method's FTD) and every method evaluated on it,
        except those evaluate.checkpoints replaces."""
        return [m for m in (POSE_VAE.name, *self.speaker_methods(speaker)) if not self.replaced(speaker, m)]

    def template_methods(self, speaker):
        """The methods evaluated on ``speaker`` with one template per training clip (SDT-BP's table, SDT-VAE's VAE
        means): what plot_templates projects."""
        return [m for m in self.speaker_methods(speaker) if self.methods[m].template in ("clip_bp", "vae")]

    def labels(self, names=None):
        """{method: its display name} (the tables', the plots')."""
        return {m: self.methods[m].label or m for m in (self.methods if names is None else names)}

    # -- evaluation, demo and figures --------------------------------------------------------------------------------
    def evaluate_inputs(self, speaker, method):
        """Dev clips (poses and audio: BC's onsets), statistics and the pose VAE of FTD for every row; the model and
        the dataset index (a template table's rows are its train rows) for methods."""
        inputs = {"dev_poses": f"results/{speaker}/dataset/dev_poses.npy",
                  "dev_audio": f"results/{speaker}/dataset/dev_audio.npy",
                  "stats": f"results/{speaker}/stats.npz", "pose_vae": self.checkpoint(speaker, POSE_VAE.name)}
        if method not in REFERENCES:
            inputs["model"] = self.checkpoint(speaker, method)
            inputs["index"] = f"results/{speaker}/dataset/clips.csv"
        return inputs

    def evaluate_settings(self, method):
        """The evaluation settings the results of ``method`` (a reference row's name, or a method) depend on."""
        return self.evaluation.params_for(None if method in REFERENCES else self.methods[method])

    def evaluate_method(self, method):
        """A reference row's name, or the method's definition."""
        return method if method in REFERENCES else self.definition(method)

    def evaluate_gpus(self, method):
        """Models run on a GPU; the reference rows need only the pose VAE's encoder, quick on a CPU."""
        return 0 if method in REFERENCES else 1

    def sampling_temperature(self, method):
        """The temperature of a family that samples at one (MoGlow), for the demo and renderings; None otherwise
        (their results do not depend on it)."""
        return self.evaluation.temperature if "temperature" in family(self.methods[method].family).sample_settings \
            else None

    def model_inputs(self, speaker, method):
        """A model a demo, render_clips or plot step uses: its checkpoint (trained or configured), the statistics,
        the dataset index and, for a configured SDT-VAE, the pose VAE whose clip means are its templates."""
        inputs = {"model": self.checkpoint(speaker, method), "stats": f"results/{speaker}/stats.npz",
                  "index": f"results/{speaker}/dataset/clips.csv"}
        if self.methods[method].template == "vae" and self.replaced(speaker, method):
            inputs["pose_vae"] = self.checkpoint(speaker, POSE_VAE.name)
        return inputs

    def template_models(self, speaker):
        """plot_templates' inputs: every template method's checkpoint under its name, the index and, for a configured
        SDT-VAE, its pose VAE."""
        methods = self.template_methods(speaker)
        inputs = {m: self.checkpoint(speaker, m) for m in methods}
        inputs["index"] = f"results/{speaker}/dataset/clips.csv"
        if any(self.methods[m].template == "vae" and self.replaced(speaker, m) for m in methods):
            inputs["pose_vae"] = self.checkpoint(speaker, POSE_VAE.name)
        return inputs

    def training_histories(self, speaker):
        """The history.csv of every model trained for the speaker, in trained_methods' order."""
        return [f"results/{speaker}/train/{m}/history.csv" for m in self.trained_methods(speaker)]

    def demo_audio(self, speaker):
        """The speech of a speaker's demo: the configured file, else espeak-ng speech (make_demo_audio) when the
        config has the sample speaker, else the speaker's own dev clips (dev_demo_audio): real data needs no
        espeak-ng."""
        if self.demo_audio_file:
            return self.demo_audio_file
        if any(self.kind(s) == "sample" for s in self.speakers):
            return "results/demo/speech.wav"
        return f"results/{speaker}/demo/dev_speech.wav"

    # -- code digests -----------------------------------------------------------------------------------------------
    def code(self, script, family_name=None):
        """A param that changes when the code a step runs changes: a digest of workflow_scripts/<script>.py and
        every project module it imports (sdt.provenance) and, for a job of a method family, the family's module and
        network, which the step loads by name.  Snakemake's own ``code`` trigger watches the step script alone."""
        modules = family(family_name).code_modules() if family_name else ()
        return code_digest(self.basedir / "workflow_scripts" / f"{script}.py", self.basedir, modules)

    def method_code(self, script, method):
        """:meth:`code` of a job of ``method`` (a reference row's job runs no network)."""
        return self.code(script, None if method in REFERENCES else self.method(method).family)

    # -- the main job's targets --------------------------------------------------------------------------------------
    def targets(self):
        """Per speaker the dataset, the models, the evaluations; the tables; the first speaker's demo and figures."""
        out = []
        for s in self.speakers:
            out.append(f"results/{s}/stats.npz")
            out += [f"results/{s}/qc.csv"] if self.kind(s) != "released" else []
            out += [f"results/{s}/plots/sample_qc.png"] if self.kind(s) == "sample" else []
            out += [f"results/{s}/models/{m}.pt" for m in self.trained_methods(s)]
        out += self.evaluations()
        out += [f"results/tables/{name}" for name in ("paper_tables.md", "paper_tables.html", "evaluations.md")]
        first = next(iter(self.speakers))
        out += [f"results/{first}/demo/{self.demo.method}.mp4", f"results/{first}/render/{self.demo.method}.mp4"]
        out += [f"results/{first}/plots/templates.png"] if self.template_methods(first) else []
        out += [f"results/{first}/plots/training.png"] if self.trained_methods(first) else []
        return out

    def evaluations(self):
        """Every evaluation JSON: each speaker's reference rows and configured methods (paper_tables' inputs)."""
        return [f"results/{s}/evaluation/{m}.json" for s in self.speakers for m in (*REFERENCES,
                                                                                    *self.speaker_methods(s))]


def _fields(cls):
    """The config keys of a settings dataclass."""
    return {f.name for f in settings.config_fields(cls)}
