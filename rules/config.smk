# The configuration: config/config.yaml (or --configfile / --config) typed and validated against the schema, and
# the settings derived from it that the rules share.  Everything here runs once, when the workflow loads.
from pathlib import Path

import yaml

from snakemake.utils import validate


def _typed(value, schema):
    """`--config 'dataset={"clip_stride": 6}'` hands nested values over as strings: read a string as YAML where
    the schema wants a number, boolean or array, so such overrides validate like config-file values."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {k: _typed(v, props.get(k, extra if isinstance(extra, dict) else {})) for k, v in value.items()}
    wanted = schema.get("type")
    if isinstance(value, str) and wanted in ("integer", "number", "boolean", "array"):
        parsed = yaml.safe_load(value)
        return parsed if not isinstance(parsed, str) else value
    return value


SCHEMA = Path(workflow.basedir) / "config" / "schemas" / "config.schema.yaml"
config.update(_typed(dict(config), yaml.safe_load(SCHEMA.read_text())))
validate(config, str(SCHEMA))

DATASET = config["dataset"]
EVALUATE = config["evaluate"]
DEMO = config["demo"]


def _train_settings():
    """config['train'] with the chosen preset's overrides applied (preset 'release' = no overrides)."""
    train = dict(config["train"])
    preset = train.pop("preset")
    if preset != "release":
        if preset not in config["train_presets"]:
            raise WorkflowError(
                f"train.preset '{preset}' is not 'release' nor one of train_presets: "
                f"{sorted(config['train_presets'])}"
            )
        train.update(config["train_presets"][preset])
    return train


TRAIN = _train_settings()

for _speaker in EVALUATE["checkpoints"]:
    if _speaker not in config["speakers"]:
        raise WorkflowError(f"evaluate.checkpoints names speaker '{_speaker}', which is not under speakers:")

# The speech of every demo: --config demo_audio=..., else demo.audio, else espeak-ng speech (rule make_demo_audio).
DEMO_AUDIO = config["demo_audio"] or DEMO["audio"] or "results/demo/speech.wav"
# A missing file must stop the run: Snakemake would otherwise keep an existing demo made from other speech.
if (config["demo_audio"] or DEMO["audio"]) and not Path(DEMO_AUDIO).is_file():
    raise WorkflowError(f"demo audio {DEMO_AUDIO} does not exist (config demo_audio / demo.audio)")
