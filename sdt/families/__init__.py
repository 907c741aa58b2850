"""Method families: one record per network family, which training, inference, the demo, evaluation and the rules
all go through (docs/methods.md).

A family is a network (models/<network>.py) plus its module here (sdt/families/<name>.py), which defines

  training   build(definition, settings) -> (nets {name: module}, configs {name: asdict(config)})
             init_state(run, n_train, fixed_templates)   templates, buffers of a fresh run
             prepare(run, train_set)                     what the networks fit on the training clips, before step 1
             step(run, batch) -> {loss name: float}      one optimisation step on a batch
             predict(run, batch, generator)              normalised poses [B, 64, 2, 121] (videos while training)
  inference  infer(net, features, latent)                normalised poses [B, 64, 2, 121] (sdt.inference)
             and, optionally, infer_samples(net, features, latents) (K latents sharing one pass) and, for
             ``latent == "noise"``, latent_shape(net, n_frames) and latent_frames(net, features)

Adding a family: its network in models/, its module here, and one :class:`Family` in :data:`FAMILIES` (the
training rule, the config schema and the evaluation settings follow from the record).  Modules are imported by
name (:meth:`Family.load`), so a rule's code digest holds its own family's code only: editing models/moglow.py
reruns no U-Net job (sdt.plan).
"""

import importlib
from dataclasses import dataclass, field

FEATURES = ("mel", "mfcc")  # models.features: MelSpectrogram (the release's input), MFCC (Audio to Body Dynamics)
LATENTS = ("template", "noise", "none")


@dataclass(frozen=True)
class Family:
    name: str
    network: tuple  # (module, network class, its config class) in models/
    rule: str  # its training rule (rules/train.smk)
    keys: tuple  # what a method definition of this family may set (sdt.methods.Method), besides name and family
    features: str = "mel"  # the audio input, one of FEATURES
    latent: str = "none"  # what a prediction draws at random: a row of the method's template table (methods with
    # templates), noise z = temperature x N(0, I), or nothing (one of LATENTS)
    sample_settings: tuple = ()  # evaluation settings its predictions depend on besides the template's (MoGlow's
    # temperature): only its evaluations, demos and renderings rerun when they change
    audio_to_pose: bool = True  # False: the pose VAE (no audio input; every method's FTD)
    resources: dict = field(default_factory=dict)  # its training rule's mem_mb and runtime (min), from measured peaks

    def __post_init__(self):
        if self.features not in FEATURES or self.latent not in LATENTS:
            raise ValueError(f"family {self.name}: features must be one of {FEATURES}, latent one of {LATENTS}")

    @property
    def module(self):
        return f"{__name__}.{self.name}"

    def load(self):
        """The family's module (sdt.families.<name>)."""
        return importlib.import_module(self.module)

    def network_class(self):
        """(network class, config class) of its network."""
        module = importlib.import_module(self.network[0])
        return getattr(module, self.network[1]), getattr(module, self.network[2])

    def code_modules(self):
        """The modules a rule running this family loads by name: its own and its network's (a code digest's)."""
        return (self.module, self.network[0])


FAMILIES = {f.name: f for f in (
    # SDT-BP, SDT-VAE, Speech2Gesture and the ablations of Tables 1 and 3: 7.1 M parameters
    Family("unet", ("models.generator", "SequenceGeneratorCNN", "GeneratorConfig"), rule="train_generator",
           keys=("norm", "poses", "template", "gan_weight", "net", "label"), latent="template",
           resources={"mem_mb": 12000, "runtime": 720}),
    # Audio to Body Dynamics: 8.2 M parameters, LSTMs over 67 steps: 0.15x the generator's FLOPs per step
    Family("audio2body", ("models.audio2body", "Audio2Body", "Audio2BodyConfig"), rule="train_audio2body",
           keys=("poses", "net", "label"), features="mfcc", resources={"mem_mb": 8000, "runtime": 720}),
    # MoGlow: 211 M parameters (0.84 GB, 3.4 GB with Adam's moments), 12 coupling LSTMs over 64 frames per step
    Family("moglow", ("models.moglow", "MoGlow", "MoGlowConfig"), rule="train_moglow", keys=("poses", "net", "label"),
           latent="noise", sample_settings=("temperature",), resources={"mem_mb": 24000, "runtime": 1440}),
    # SDT-VAE's templates and every method's FTD
    Family("pose_vae", ("models.pose_vae", "PoseSeqVAE", "PoseVAEConfig"), rule="train_pose_vae", keys=("net", "label"),
           audio_to_pose=False, resources={"mem_mb": 8000, "runtime": 240}),
)}
AUDIO_TO_POSE = tuple(name for name, f in FAMILIES.items() if f.audio_to_pose)


def family(name):
    """The :class:`Family` named ``name`` (an error naming the families otherwise)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown method family {name!r}: one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def network(name, config):
    """The (untrained) network of family ``name`` from its config dict, e.g. a checkpoint's ``model_configs``."""
    net_class, config_class = family(name).network_class()
    return net_class(config_class(**config))


def features(name):
    """The audio feature extractor of family ``name`` (an nn.Module: wav [B, S] -> [B, C, T])."""
    from models.features import MFCC, MelSpectrogram

    return {"mel": MelSpectrogram, "mfcc": MFCC}[family(name).features]()

