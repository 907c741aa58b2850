"""Settings sections as typed dataclasses, the one home of each setting's default, type and allowed values.

A section of config/config.yaml that holds settings (dataset, sample, train, evaluate, demo) is a frozen dataclass
whose fields are declared with :func:`setting`; the JSON schema that validates the config (sdt.plan.config) takes
those sections' properties from here (:func:`properties`), so a default or a bound is written once.  A field's
metadata may also mark it ``speed_only`` (it cannot change a result: the rules pass it so that changing it reruns
nothing) or ``config=False`` (not a config key: set by the workflow).
"""

import dataclasses
import typing

TYPES = {int: "integer", float: "number", bool: "boolean", str: "string", tuple: "array", dict: "object"}


def setting(default, *, speed_only=False, config=True, **schema):
    """A dataclass field with its JSON-schema keywords (``minimum``, ``enum``, ``items``, ...)."""
    meta = {"schema": schema, "speed_only": speed_only, "config": config}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def default_of(f):
    """A field's default value (its factory's product for a list or dict)."""
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def config_fields(cls):
    """The fields of ``cls`` that are config keys."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("config", True)]


def _json(value):
    return list(value) if isinstance(value, tuple) else value


def properties(cls):
    """{key: JSON schema} of the config keys of settings dataclass ``cls``: type (from the annotation), default,
    and the field's own keywords (which win: e.g. ``const`` or ``enum`` instead of a type)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in config_fields(cls):
        kind = hints[f.name]
        kind = typing.get_origin(kind) or kind
        schema = {"type": TYPES[kind]} if kind in TYPES else {}
        schema.update(f.metadata.get("schema", {}))
        if "enum" in schema or "const" in schema:
            schema.pop("type", None)
        out[f.name] = {**schema, "default": _json(default_of(f))}
    return out


def defaults(cls):
    """{key: default} of the config keys of ``cls`` (what config.yaml shows)."""
    return {f.name: _json(default_of(f)) for f in config_fields(cls)}


def speed_only(cls):
    """The names of the fields of ``cls`` that only change how fast a result comes, never the result."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("speed_only"))


def build(cls, values):
    """``cls(**values)``: an unknown key is an error naming it and the keys there are; lists become tuples for
    tuple-typed fields."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(unknown)} (known: {', '.join(sorted(names))})")
    hints = typing.get_type_hints(cls)
    return cls(**{k: tuple(v) if (typing.get_origin(hints[k]) or hints[k]) is tuple and isinstance(v, list) else v
                  for k, v in values.items()})
