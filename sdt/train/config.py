"""The training settings of one model: one typed config built once from the rule's params (SDT_SPEC 5, 8)."""

from dataclasses import asdict, dataclass, fields

from sdt.constants import FTD_INPUTS

VIDEO_FORMATS = ("mp4", "tensorboard")  # the release's SYS.VIDEO_FORMAT (its 'img' is not offered)

# Settings that cannot change the trained weights nor the history: left out of a run's fingerprint, so changing
# them never invalidates a checkpoint (issue 9).  The number of processes is not a setting (the rule's gpu
# resource) and is not in the fingerprint either.
SPEED_ONLY = ("num_workers", "checkpoint_every", "video_format", "video_train_clips", "video_dev_clips")
# Keys of config.yaml's train section that are not settings of a run: the preset's name, a rule resource (gpus) and
# a rule input (init_from); rules/common.smk leaves them out of the training rules' params.
NOT_SETTINGS = ("preset", "gpus", "init_from")


@dataclass(frozen=True)
class TrainSettings:
    """The release's hyper-parameters by default (config.yaml's ``train:`` section documents each key).  What
    defines a method (its network, norm, poses, templates, adversarial weight) is its sdt.methods.Method."""

    epochs: int = 100
    batch_size: int = 32  # the global batch: split evenly over the processes of a distributed run
    lr: float = 1e-4  # Adam, no weight decay, for the networks and the template table
    lr_milestones: tuple = (-10, -2)  # MultiStepLR epochs; negative = counted from the end (E-10, E-2)
    lr_gamma: float = 0.1
    seed: int = 0  # torch.manual_seed(0) in the release
    template_dim: int = 32  # SDT template / VAE code size
    template_kl_weight: float = 0.1  # learned templates (SDT-BP, frame-wise too): KL of the batch's templates
    template_lr_scale: float = 1.0  # learned templates: the table's lr multiplier (the release's CLIP_CODE.LR_SCALING)
    vae_kl_weight: float = 0.1  # pose VAE: KL weight (the release's 1.0 -> 0.1 of 2022-04-26)
    checkpoint_every: int = 1  # epochs between resumable checkpoints
    max_steps_per_epoch: int = 0  # 0 = the whole training split every epoch
    drop_last: bool = True  # drop the last partial batch of an epoch (the release's DataLoader drop_last=True)
    fast: bool = False  # bf16 autocast + channels-last (+ torch.compile on CUDA) where the hardware has bf16
    num_workers: int = 0  # DataLoader workers
    sync_bn: bool = False  # distributed runs: batch norm over the global batch (the release converts none)
    init_templates: bool = False  # fine-tuning: take over the source's template table when its shape fits
    validate_ftd: bool = True  # validation of a generator computes FTD with the speaker's pose VAE
    ftd_global_input: str = "release"  # FTD of a global-pose model: the release's encoder input, or "parted"
    video_format: tuple = ("mp4",)  # videos while training: any of VIDEO_FORMATS; () = none
    video_train_clips: int = 2  # training clips rendered per epoch (the release's TRAIN.NUM_RESULT_SAMPLE)
    video_dev_clips: int = 8  # dev clips rendered per epoch (the release's TEST.NUM_RESULT_SAMPLE)

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
        if isinstance(settings, cls):
            return settings
        unknown = set(settings) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(sorted(unknown))}")
        return cls(**settings)

    @classmethod
    def from_config(cls, train_section):
        """The settings of config.yaml's ``train:`` section as written (its preset not applied)."""
        return cls.of({k: v for k, v in train_section.items() if k not in NOT_SETTINGS})

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
