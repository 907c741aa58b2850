"""The methods of the paper's tables as named variants, and the reference rows: one home for what defines each.

A method is a name plus what defines it (docs/networks.md §1-3, §5):

  family      the network: ``unet`` (the release's audio-to-pose U-Net generator, models/generator.py),
              ``audio2body`` (Audio to Body Dynamics, models/audio2body.py), ``moglow`` (models/moglow.py)
  norm        the U-Net generator's normalisation, named as in the paper's Table 3: ``BN`` (batch norm), ``IN``
              (standard instance norm: each channel over the frames), ``IN*`` (the paper's transposed instance norm:
              each frame over the channels = the release's 1D "IN", docs/networks.md §1.2); 2D layers of the audio
              encoder use the standard InstanceNorm2d under both IN and IN* (the release's 2D "IN")
  poses       ``parted`` (hierarchical: face relative to the nose tip, hands to the wrists) or ``global``
              (docs/dataset.md §4)
  template    ``none``; ``clip_bp`` (SDT-BP: a learned table [N, D]); ``frame_bp`` (a learned table [N, D, 64], one
              template per frame, docs/networks.md §5); ``vae`` (SDT-VAE: the pose VAE's fixed per-clip means)
  gan_weight  the adversarial weight: > 0 adds the Speech2Gesture motion discriminator (LSGAN) with that weight
  net         overrides of the family's network config (e.g. a smaller MoGlow: ``{hidden: 64, n_steps: 4}``)

The paper's methods are :data:`PAPER_METHODS`; a config may add variants of its own (config ``methods:``).
Choices the paper leaves open, made here: the baselines train on parted poses (Audio to Body Dynamics predicts body,
face and hands with separate LSTMs: the hierarchical representation makes each part's target its own local shape;
MoGlow: the representation of every SDT row of Table 2).  MoGlow's sampling temperature is a test-time setting
(config ``evaluate.temperature``), not part of the method: it does not change the trained model.
"""

from dataclasses import MISSING, asdict, dataclass, field, fields, replace

from sdt.families import AUDIO_TO_POSE, FAMILIES

NORMS = ("BN", "IN", "IN*")
GENERATOR_NORM = {"BN": "BN", "IN": "IN_frames", "IN*": "IN"}  # paper name -> models.blocks.make_norm name
POSES = ("parted", "global")
TEMPLATES = ("none", "clip_bp", "frame_bp", "vae")
BP_TEMPLATES = ("clip_bp", "frame_bp")  # learned by back-propagation: a trainable table and its KL term


@dataclass(frozen=True)
class Method:
    name: str
    family: str = "unet"
    norm: str = "IN*"
    poses: str = "parted"
    template: str = "none"
    gan_weight: float = 0.0
    net: dict = field(default_factory=dict)
    label: str = ""

    def __post_init__(self):
        checks = (("family", tuple(FAMILIES)), ("norm", NORMS), ("poses", POSES), ("template", TEMPLATES))
        for key, allowed in checks:
            if getattr(self, key) not in allowed:
                raise ValueError(f"method {self.name!r}: {key} must be one of {allowed}, got {getattr(self, key)!r}")
        if self.gan_weight < 0:
            raise ValueError(f"method {self.name!r}: gan_weight must be >= 0")
        if not isinstance(self.net, dict):
            raise ValueError(f"method {self.name!r}: net must be a mapping of network settings")

    @classmethod
    def of(cls, value, name=None):
        """A Method from itself, from a name of :data:`PAPER_METHODS` (or ``pose_vae``), or from a definition dict
        (``name`` may come from the dict or the argument; :meth:`as_dict` round-trips); a key the family does not
        use is an error naming it, unless it has its default value."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return get(value)
        value = dict(value)
        name = value.pop("name", name)
        family = value.pop("family", "unet")
        keys = FAMILIES[family].keys if family in FAMILIES else ()
        defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
        unknown = sorted(k for k, v in value.items()
                         if k not in keys and (k not in defaults or v != defaults[k]) and not (k == "net" and v == {}))
        if unknown:
            raise ValueError(f"method {name!r}: the {family} family has no {', '.join(unknown)} "
                             f"(it takes {', '.join(keys)})")
        return cls(name=name, family=family, **{k: v for k, v in value.items() if k in keys})

    @property
    def parted(self):
        return self.poses == "parted"

    @property
    def audio_to_pose(self):
        return FAMILIES[self.family].audio_to_pose

    @property
    def stochastic(self):
        """Predictions depend on a random draw (a template, or a latent such as MoGlow's): evaluated once per
        seed."""
        return self.template != "none" or FAMILIES[self.family].latent == "noise"

    def definition(self):
        """What the trained model depends on: the family and the keys it uses, without the label (the training
        rule's param, so that only a change of these retrains it)."""
        return {"family": self.family, **{k: getattr(self, k) for k in FAMILIES[self.family].keys if k != "label"}}

    def as_dict(self):
        return asdict(self)

    def replace(self, **changes):
        return replace(self, **changes)


POSE_VAE = Method("pose_vae", family="pose_vae", label="pose VAE")  # SDT-VAE's templates, every method's FTD

PAPER_METHODS = {m.name: m for m in (
    # Table 2 (every speaker)
    Method("audio2body", family="audio2body", label="Audio to Body Dynamics"),
    Method("s2g", norm="BN", poses="global", gan_weight=0.1, label="Speech2Gesture"),
    Method("moglow", family="moglow", label="MoGlow"),
    Method("sdt_bp", template="clip_bp", label="SDT-BP"),
    Method("sdt_vae", template="vae", label="SDT-VAE"),
    # Table 1 (templates; with sdt_bp and sdt_vae)
    Method("no_template", label="no template (IN*, parted)"),
    Method("sdt_bp_frame", template="frame_bp", label="SDT-BP, frame-wise templates"),
    # Table 3 (normalisation and hierarchy, no template; with no_template = IN*, parted)
    Method("bn_global", norm="BN", poses="global", label="BN, global"),
    Method("in_global", norm="IN", poses="global", label="IN, global"),
    Method("in_star_global", norm="IN*", poses="global", label="IN*, global"),
    # the two cells of the norm x hierarchy grid that the paper did not run
    Method("bn_parted", norm="BN", label="BN, parted"),
    Method("in_parted", norm="IN", label="IN, parted"),
)}
RELEASE_METHODS = ("s2g", "sdt_bp", "sdt_vae")  # the release's methods: the main job's and the default evaluation

REFERENCES = ("ground_truth", "mean_pose")  # reference rows: the true poses, and the speaker's mean pose
LABELS = {"ground_truth": "ground truth", "mean_pose": "mean pose", "pose_vae": "pose VAE",
          **{name: m.label for name, m in PAPER_METHODS.items()}}


def get(name):
    """The paper's method (or the pose VAE) named ``name``."""
    if name == POSE_VAE.name:
        return POSE_VAE
    if name not in PAPER_METHODS:
        raise ValueError(f"unknown method {name!r}: the paper's are {', '.join(PAPER_METHODS)}")
    return PAPER_METHODS[name]


def catalogue(extra=None):
    """{name: Method}: the paper's methods plus the config's own variants (``extra``: name -> definition dict).
    A variant may not reuse a paper method's name or the name of a reference row or of the pose VAE."""
    methods = dict(PAPER_METHODS)
    for name, definition in (extra or {}).items():
        if name in methods or name in (*REFERENCES, POSE_VAE.name):
            raise ValueError(f"methods: {name!r} is taken (the paper's methods, the pose VAE and the reference rows "
                             "keep their meaning); give the variant another name")
        methods[name] = Method.of(definition, name=name)
        if not methods[name].audio_to_pose:
            raise ValueError(f"methods: {name!r} must be one of the families {AUDIO_TO_POSE}")
    return methods
