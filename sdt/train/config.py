"""The training settings of one model: one typed config, the one home of every training setting's default and bounds
(config/config.yaml's ``train:`` section and its schema follow from it: sdt.settings), built once per job
(docs/networks.md §3, §5)."""

from dataclasses import asdict, dataclass, fields

from sdt import settings as _settings
from sdt.constants import FTD_INPUTS
from sdt.methods import BP_TEMPLATES
from sdt.settings import setting

VIDEO_FORMATS = ("mp4", "tensorboard")  # the release's SYS.VIDEO_FORMAT (its 'img' is not offered)


@dataclass(frozen=True)
class TrainSettings:
    """The release's hyper-parameters by default (config/README.md documents each key).  What defines a method (its
    network, norm, poses, templates, adversarial weight) is its sdt.methods.Method.  ``speed_only`` settings cannot
    change the trained weights nor the history: they are left out of a run's fingerprint (changing them never
    invalidates a checkpoint) and reach the job as resources, which rerun nothing."""

    epochs: int = setting(100, minimum=1)  # passes over the training split
    batch_size: int = setting(32, minimum=1)  # the global batch: split evenly over the processes of a distributed run
    lr: float = setting(1e-4, exclusiveMinimum=0)  # Adam, no weight decay, for the networks and the template table
    lr_milestones: tuple = setting((-10, -2), items={"type": "integer"})  # MultiStepLR epochs; negative = from the end
    lr_gamma: float = setting(0.1)  # the learning rate's factor at each milestone
    seed: int = setting(0)  # torch.manual_seed(0) in the release
    template_dim: int = setting(32, minimum=1)  # SDT template / VAE code size
    template_kl_weight: float = setting(0.1, minimum=0)  # learned templates (SDT-BP, frame-wise too): the batch KL
    template_lr_scale: float = setting(1.0, exclusiveMinimum=0)  # the table's lr multiplier (CLIP_CODE.LR_SCALING)
    vae_kl_weight: float = setting(0.1, minimum=0)  # pose VAE: KL weight (the release's 1.0 -> 0.1 of 2022-04-26)
    checkpoint_every: int = setting(1, minimum=1, speed_only=True)  # epochs between resumable checkpoints
    max_steps_per_epoch: int = setting(0, minimum=0)  # 0 = the whole training split every epoch
    drop_last: bool = setting(True)  # drop the last partial batch of an epoch (the release's DataLoader drop_last)
    fast: bool = setting(False)  # bf16 autocast + channels-last (+ torch.compile on CUDA) where the hardware has bf16
    num_workers: int = setting(0, minimum=0, speed_only=True)  # DataLoader workers
    sync_bn: bool = setting(False)  # distributed runs: batch norm over the global batch (the release converts none)
    init_templates: bool = setting(False)  # fine-tuning: take over the source's template table when its shape fits
    validate_ftd: bool = setting(True)  # validation of a generator computes FTD with the speaker's pose VAE
    # FTD of a global-pose model: the release's encoder input, or "parted" (config evaluate.ftd_global_input)
    ftd_global_input: str = setting("release", enum=list(FTD_INPUTS), config=False)
    video_format: tuple = setting(("mp4",), items={"enum": list(VIDEO_FORMATS)}, uniqueItems=True, speed_only=True)
    video_train_clips: int = setting(2, minimum=0, speed_only=True)  # training clips rendered per epoch (the release)
    video_dev_clips: int = setting(8, minimum=0, speed_only=True)  # dev clips rendered per epoch (the release's 8)

    def __post_init__(self):
        object.__setattr__(self, "lr_milestones", tuple(int(m) for m in self.lr_milestones))
        formats = self.video_format  # "mp4,tensorboard" or "none" as the training rules' resource, else a list
        if isinstance(formats, str):
            formats = () if formats == "none" else formats.split(",")
        object.__setattr__(self, "video_format", tuple(formats))
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.checkpoint_every < 1:
            raise ValueError(f"invalid training settings: {self}")
        unknown = set(self.video_format) - set(VIDEO_FORMATS)
        if unknown or self.ftd_global_input not in FTD_INPUTS or min(self.video_train_clips,
                                                                    self.video_dev_clips) < 0:
            raise ValueError(f"invalid training settings: video_format {self.video_format} (any of {VIDEO_FORMATS}),"
                             f" ftd_global_input {self.ftd_global_input!r} (one of {FTD_INPUTS}), video clip "
                             "counts >= 0")

    @classmethod
    def of(cls, settings):
        """A TrainSettings from itself or from a dict of settings (an unknown key is an error naming it)."""
        return settings if isinstance(settings, cls) else _settings.build(cls, settings)

    @classmethod
    def from_job(cls, params, resources):
        """The settings a training rule hands its script: ``params`` (what decides the result) and the
        :data:`SPEED_ONLY` ones as ``resources`` (:meth:`resources` wrote them)."""
        return cls.of({**params, **{k: resources[k] for k in SPEED_ONLY}})

    def resources(self):
        """The speed-only settings as rule resources, which are numbers or strings (a list as "a,b", or "none")."""
        values = {k: getattr(self, k) for k in SPEED_ONLY}
        return {k: (",".join(v) or "none") if isinstance(v, tuple) else v for k, v in values.items()}

    def params_for(self, method):
        """The settings ``method``'s training depends on (a training rule's params: Snakemake reruns a job when they
        change): not the speed-only ones, and only the settings its family and templates use, so that changing
        e.g. the VAE's KL weight retrains no generator that does not take the VAE's templates."""
        return {k: v for k, v in asdict(self).items() if _uses(k, method)}

    def milestones(self):
        """The MultiStepLR milestones as positive epochs (E-10, E-2 -> 90, 98 for 100 epochs)."""
        return sorted({m if m > 0 else self.epochs + m for m in self.lr_milestones} - {0})

    def as_dict(self):
        return asdict(self)

    def result_dict(self):
        """The settings that decide a run's result (weights and history): what its fingerprint hashes."""
        return {k: v for k, v in asdict(self).items() if k not in SPEED_ONLY}

    def videos(self):
        """(training clips, dev clips) rendered per epoch: none without a video format."""
        return (self.video_train_clips, self.video_dev_clips) if self.video_format else (0, 0)


SPEED_ONLY = _settings.speed_only(TrainSettings)
SETTINGS = tuple(f.name for f in fields(TrainSettings))


def _uses(key, method):
    """Whether the training of ``method`` (a sdt.methods.Method) depends on setting ``key``."""
    if key in SPEED_ONLY:
        return False
    if key == "vae_kl_weight":
        return not method.audio_to_pose
    if key == "template_dim":
        return not method.audio_to_pose or method.template != "none"
    if key in ("template_kl_weight", "template_lr_scale", "init_templates"):
        return method.template in BP_TEMPLATES
    if key == "validate_ftd":  # validation of the audio-to-pose models (the pose VAE validates itself)
        return method.audio_to_pose
    if key == "ftd_global_input":  # only a global-pose model's FTD has two encoder inputs (issue 14)
        return method.audio_to_pose and not method.parted
    return True
