"""The demo's settings: one typed config, the one home of every demo setting's default and bounds (the ``demo:``
section of config/config.yaml and its schema follow from it: sdt.settings)."""

from dataclasses import dataclass

from sdt.settings import setting

MODES = ("grid", "template", "morph")  # K templates side by side | one | templates[0] -> templates[1]


@dataclass(frozen=True)
class DemoSettings:
    audio: str = setting("")  # speech to drive the demo; "" = espeak-ng speech, or the speaker's dev clips
    method: str = setting("sdt_vae")  # the model of the default demo target
    mode: str = setting("grid", enum=list(MODES))
    templates: tuple = setting((), items={"type": "integer", "minimum": 0})  # template rows; () = drawn with seed
    grid: int = setting(4, minimum=1)  # K, the number of templates in grid mode when templates is empty
    seed: int = setting(0)  # draws templates; picks the espeak-ng sentences
    strip_frames: int = setting(8, minimum=1)  # frames in the strip image next to each demo video
    clips: int = setting(4, minimum=1)  # dev clips in render_clips


DEMO = DemoSettings()
