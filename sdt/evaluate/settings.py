"""The evaluation settings: one typed config, the one home of every evaluation setting's default and bounds (the
``evaluate:`` section of config/config.yaml and its schema follow from it: sdt.settings; docs/evaluation.md §1)."""

from dataclasses import dataclass

from sdt import settings as _settings
from sdt.constants import FTD_INPUTS
from sdt.families import family
from sdt.settings import setting

TEMPLATES = ("random_train", "normal", "vae_of_truth")  # a templated method's template at test time
PCK_THRESHOLD = 0.2  # PCK@0.2 of the true pose's larger bounding-box side (Yang & Ramanan; Speech2Gesture)


@dataclass(frozen=True)
class EvalSettings:
    # template at test time: a random training template (the release's default) | a standard-normal vector | the
    # pose VAE's mu of the true poses
    template: str = setting("random_train", enum=list(TEMPLATES))
    seeds: tuple = setting((0,), items={"type": "integer"}, minItems=1, uniqueItems=True)  # one evaluation each
    diversity_samples: int = setting(5, minimum=0, **{"not": {"const": 1}})  # K templates per clip; 0 = off
    pck_threshold: float = setting(PCK_THRESHOLD, exclusiveMinimum=0)  # x the larger side of the true pose's box
    batch_size: int = setting(64, minimum=1, config=False)  # clips per forward pass: no result depends on it
    # FTD of a global-pose model: the release's encoder input (the paper's path), or its poses made parted
    ftd_global_input: str = setting("release", enum=list(FTD_INPUTS))
    temperature: float = setting(1.0, minimum=0)  # MoGlow: its latent z = temperature x N(0, I)

    def __post_init__(self):
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if self.template not in TEMPLATES:
            raise ValueError(f"template must be one of {TEMPLATES}, got {self.template!r}")
        if self.ftd_global_input not in FTD_INPUTS:
            raise ValueError(f"ftd_global_input must be one of {FTD_INPUTS}, got {self.ftd_global_input!r}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be a non-empty list of distinct integers, got {self.seeds}")
        if self.diversity_samples == 1 or self.diversity_samples < 0:
            raise ValueError(f"diversity_samples must be 0 (off) or >= 2, got {self.diversity_samples}")
        if self.batch_size < 1 or not 0 < self.pck_threshold or self.temperature < 0:
            raise ValueError("batch_size must be >= 1, pck_threshold > 0 and temperature >= 0")

    @classmethod
    def of(cls, settings):
        """EvalSettings from itself, a dict of settings (an unknown key is an error naming it) or None (defaults)."""
        return settings if isinstance(settings, cls) else _settings.build(cls, settings or {})

    def params_for(self, method):
        """The settings the evaluation of ``method`` (a sdt.methods.Method; None for a reference row) depends on,
        so that changing one reruns only those evaluations: reference rows and methods that draw nothing ignore
        templates and seeds, only a family with ``sample_settings`` (MoGlow: temperature) depends on them, only
        global-pose models have a choice of FTD input."""
        keys = ["pck_threshold"]
        if method is not None:
            keys += ["diversity_samples"] + (["seeds"] if method.stochastic else [])
            keys += ["template"] if method.template != "none" else []
            keys += list(family(method.family).sample_settings)
            keys += ["ftd_global_input"] if not method.parted else []
        return {**{k: getattr(self, k) for k in keys}, "batch_size": self.batch_size}
