# The configuration: config/config.yaml (or --configfile / --config) typed and validated against the schema, and
# the settings derived from it that the rules share.  Everything here runs once, when the workflow loads.
from pathlib import Path

import yaml

from sdt.constants import AUDIO_RATE, CLIP_FRAMES, FPS
from sdt.methods import catalogue
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

# The numbers the networks, the mel spectrogram and the demo are built for (sdt/constants.py, their one home): a
# config may state them but not change them.  Checked before the schema, whose own message would not say why.
FIXED_DATASET = {"fps": FPS, "clip_frames": CLIP_FRAMES, "audio_rate": AUDIO_RATE}
for _key, _value in FIXED_DATASET.items():
    _given = config.get("dataset", {}).get(_key, _value)
    if _given != _value:
        raise WorkflowError(
            f"dataset.{_key} = {_given}: this value is fixed at {_value}.  The networks take {CLIP_FRAMES}-frame "
            f"clips at {FPS} fps and {AUDIO_RATE} Hz audio (the mel spectrogram's hop, the demo's windows and the "
            "release's checkpoints assume them; sdt/constants.py).  Remove the key from your config."
        )

validate(config, str(SCHEMA))

DATASET = config["dataset"]
EVALUATE = config["evaluate"]
DEMO = config["demo"]


def _methods():
    """{name: sdt.methods.Method}: the paper's methods and the config's own (config methods:)."""
    try:
        methods = catalogue(config["methods"])
    except ValueError as e:
        raise WorkflowError(str(e)) from e
    asked = {"evaluate.methods": EVALUATE["methods"], "demo.method": [DEMO["method"]]}
    for speaker, names in EVALUATE["speaker_methods"].items():
        if speaker not in config["speakers"]:
            raise WorkflowError(f"evaluate.speaker_methods names speaker '{speaker}', which is not under speakers:")
        asked[f"evaluate.speaker_methods.{speaker}"] = names
    for key, names in asked.items():
        unknown = [n for n in names if n not in methods]
        if unknown:
            raise WorkflowError(
                f"{key}: unknown method {unknown[0]!r}; the methods are {', '.join(methods)} "
                "(add your own under methods:)"
            )
    return methods


METHODS = _methods()  # every method a rule may build; EVALUATE["methods"] are the ones the main job runs


for _speaker in EVALUATE["checkpoints"]:
    if _speaker not in config["speakers"]:
        raise WorkflowError(f"evaluate.checkpoints names speaker '{_speaker}', which is not under speakers:")

# The speech of every demo: --config demo_audio=..., else demo.audio, else made by a rule (demo_audio in
# common.smk: espeak-ng speech with the sample speaker, else the speaker's own dev clips).
DEMO_AUDIO = config["demo_audio"] or DEMO["audio"]
# A missing file must stop the run: Snakemake would otherwise keep an existing demo made from other speech.
if DEMO_AUDIO and not Path(DEMO_AUDIO).is_file():
    raise WorkflowError(f"demo audio {DEMO_AUDIO} does not exist (config demo_audio / demo.audio)")
