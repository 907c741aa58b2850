"""The training settings of one model: one typed config built once from the rule's params (SDT_SPEC 5)."""

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class TrainSettings:
    """The release's hyper-parameters by default (config.yaml's ``train:`` section documents each key)."""

    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-4  # Adam, no weight decay, for the networks and the template table
    lr_milestones: tuple = (-10, -2)  # MultiStepLR epochs; negative = counted from the end (E-10, E-2)
    lr_gamma: float = 0.1
    seed: int = 0  # torch.manual_seed(0) in the release
    template_dim: int = 32  # SDT template / VAE code size
    template_kl_weight: float = 0.1  # SDT-BP: KL of the batch's templates
    template_lr_scale: float = 1.0  # SDT-BP: the template table's lr multiplier (the release's CLIP_CODE.LR_SCALING)
    vae_kl_weight: float = 0.1  # pose VAE: KL weight (the release's 1.0 -> 0.1 of 2022-04-26)
    gan_weight: float = 0.1  # Speech2Gesture: LSGAN weight of both the generator's and the discriminator's loss
    checkpoint_every: int = 1  # epochs between resumable checkpoints
    max_steps_per_epoch: int = 0  # 0 = the whole training split every epoch
    fast: bool = False  # bf16 autocast + channels-last (+ torch.compile on CUDA) where the hardware has bf16
    num_workers: int = 0  # DataLoader workers

    def __post_init__(self):
        object.__setattr__(self, "lr_milestones", tuple(int(m) for m in self.lr_milestones))
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.checkpoint_every < 1:
            raise ValueError(f"invalid training settings: {self}")

    @classmethod
    def of(cls, settings):
        """A TrainSettings from itself or from a dict of settings (an unknown key is an error naming it)."""
        if isinstance(settings, cls):
            return settings
        unknown = set(settings) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(sorted(unknown))}")
        return cls(**settings)

    def milestones(self):
        """The MultiStepLR milestones as positive epochs (E-10, E-2 -> 90, 98 for 100 epochs)."""
        return sorted({m if m > 0 else self.epochs + m for m in self.lr_milestones} - {0})

    def as_dict(self):
        return asdict(self)
