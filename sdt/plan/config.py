"""Reading the workflow's config: typed, checked against the schema (with its defaults filled in), with one short
error naming the key when something is wrong.

The schema is config/schemas/config.schema.yaml for the structure (speakers, methods, presets, checkpoints, the
workflow's own keys of each section) plus the properties of every settings section taken from its dataclass
(:data:`SECTIONS`, sdt.settings), and the allowed values of a method definition taken from sdt.methods and the
family registry (sdt.families): each default, bound and allowed value is written once.
"""

import copy
from pathlib import Path

import jsonschema
import yaml
from jsonschema import Draft202012Validator, validators

from sdt import settings
from sdt.constants import AUDIO_RATE, CLIP_FRAMES, FPS
from sdt.dataset.settings import DatasetSettings, SampleSettings
from sdt.demo.settings import DemoSettings
from sdt.evaluate.settings import EvalSettings
from sdt.families import AUDIO_TO_POSE
from sdt.methods import NORMS, POSE_VAE, POSES, RELEASE_METHODS, TEMPLATES
from sdt.train.config import TrainSettings

SCHEMA = Path("config") / "schemas" / "config.schema.yaml"  # relative to the workflow's folder
SECTIONS = {"dataset": DatasetSettings, "sample": SampleSettings, "train": TrainSettings, "evaluate": EvalSettings,
            "demo": DemoSettings}
FIXED = {"fps": FPS, "clip_frames": CLIP_FRAMES, "audio_rate": AUDIO_RATE}  # dataset keys that may not change


class ConfigError(ValueError):
    """A config that cannot be used: the message names the key and the problem in one line."""


def schema(basedir="."):
    """The full JSON schema of the config: the structure from config/schemas/, the settings from sdt.settings."""
    full = yaml.safe_load((Path(basedir) / SCHEMA).read_text())
    props = full["properties"]
    for name, cls in SECTIONS.items():
        props[name].setdefault("properties", {}).update(settings.properties(cls))
    preset_keys = [f.name for f in settings.config_fields(TrainSettings)]
    props["train_presets"]["additionalProperties"]["propertyNames"] = {"enum": preset_keys}
    method = props["methods"]["additionalProperties"]["properties"]
    method.update(family={"enum": list(AUDIO_TO_POSE)}, poses={"enum": list(POSES)}, norm={"enum": list(NORMS)},
                  template={"enum": list(TEMPLATES)})
    evaluate = props["evaluate"]["properties"]
    evaluate["methods"]["default"] = list(RELEASE_METHODS)  # the release's methods, the main job's
    released = evaluate["checkpoints"]["additionalProperties"]  # the authors' released checkpoints
    released["properties"] = {m: {"type": "string"} for m in (POSE_VAE.name, *RELEASE_METHODS)}
    return full


def typed(value, schema):
    """``--config 'dataset={"clip_stride": 6}'`` hands nested values over as strings: read a string as YAML where
    the schema wants a number, boolean or array, so such overrides validate like config-file values."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {k: typed(v, props.get(k, extra if isinstance(extra, dict) else {})) for k, v in value.items()}
    wanted = schema.get("type")
    if isinstance(value, str) and wanted in ("integer", "number", "boolean", "array"):
        parsed = yaml.safe_load(value)
        return parsed if not isinstance(parsed, str) else value
    return value


def _with_defaults(cls):
    """A validator class that also fills in each property's schema default (as snakemake.utils.validate does)."""
    check = cls.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from check(validator, props, instance, schema)

    return validators.extend(cls, {"properties": properties})


def _message(error):
    """One line for the most relevant error: where (``train.epochs``) and what."""
    best = error
    where = ".".join(str(p) for p in best.absolute_path) or "the config"
    if best.validator == "additionalProperties":
        return f"{where}: {best.message} (a misspelt key?  config/README.md lists every key)"
    if best.validator == "oneOf" and list(best.absolute_path)[:1] == ["speakers"]:
        from sdt.plan.speakers import SOURCES  # which imports this module's ConfigError

        return f"{where}: give exactly one of {', '.join(SOURCES[:-1])} or {SOURCES[-1]}"
    return f"{where}: {best.message}"


def load(config, basedir="."):
    """The config as the workflow uses it: typed, its fixed values checked, validated, defaults filled in (a new
    dict; ``config`` is not changed).  Raises :class:`ConfigError` naming the key."""
    full = schema(basedir)
    config = typed(copy.deepcopy(dict(config)), full)
    # the fixed numbers first: the schema's own message ("15 was expected") would not say why
    for key, value in FIXED.items():
        given = config.get("dataset", {}).get(key, value)
        if given != value:
            raise ConfigError(
                f"dataset.{key} = {given}: this value is fixed at {value}.  The networks take {CLIP_FRAMES}-frame "
                f"clips at {FPS} fps and {AUDIO_RATE} Hz audio (the mel spectrogram's hop, the demo's windows and the "
                "release's checkpoints assume them; models/contract.py).  Remove the key from your config.")
    validator = _with_defaults(Draft202012Validator)(full)
    errors = list(validator.iter_errors(config))
    if errors:
        raise ConfigError("config: " + _message(jsonschema.exceptions.best_match(errors)))
    return config
