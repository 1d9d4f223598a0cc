"""The JSON schema of a results file (documented field by field in docs/benchmarks.md), and a
validator for the part of JSON Schema it uses, so that checking a file needs no extra package."""

from __future__ import annotations

_NUMBER = {"type": "number"}
_OPT_NUMBER = {"type": ["number", "null"]}
_STRING = {"type": "string"}
_OPT_STRING = {"type": ["string", "null"]}
_SHAPE = {"type": "array", "items": {"type": "integer", "minimum": 0}}
_MODE = {"enum": ["forward", "forward+backward"]}
_SIZE = {"enum": ["in-cache", "out-of-cache"]}


def _object(required: dict, optional: dict | None = None, closed: bool = True) -> dict:
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": not closed,
    }


_TIMES = {"type": "object", "additionalProperties": {"$ref": "#/$defs/stats"}}

SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "hnn_fast benchmark results",
    "$defs": {
        "stats": _object(
            {
                "median_s": {"type": "number", "exclusiveMinimum": 0},
                "iqr_s": _NUMBER,
                "min_s": _NUMBER,
                "max_s": _NUMBER,
                "rounds": {"type": "integer", "minimum": 1},
                "calls_per_round": {"type": "integer", "minimum": 1},
            }
        ),
    },
    **_object(
        {
            "schema_version": {"const": 1},
            "created": _STRING,
            "wall_s": _NUMBER,
            "machine": _object(
                {
                    "cpu_model": _STRING,
                    "cpu_count": {"type": ["integer", "null"]},
                    "cpu_affinity": {"type": ["integer", "null"]},
                    "gpu": _OPT_STRING,
                    "gpu_count": {"type": "integer"},
                    "platform": _STRING,
                    "python_version": _STRING,
                    "torch_version": _STRING,
                    "torch_cuda_version": _OPT_STRING,
                    "hnn_fast_version": _STRING,
                    "hnn_fast_build": {"type": "object"},
                    "git_commit": _OPT_STRING,
                    "git_dirty": {"type": ["boolean", "null"]},
                    "load_average": {"type": ["array", "null"], "items": _NUMBER},
                    "load_average_end": {"type": ["array", "null"], "items": _NUMBER},
                }
            ),
            "config": _object(
                {
                    "preset": {"enum": ["tiny", "quick", "full"]},
                    "device": _STRING,
                    "dtype": _STRING,
                    "threads": {"type": "integer", "minimum": 1},
                    "only": {
                        "type": "array",
                        "items": {"enum": ["lif", "leaky", "hu", "recurrent", "peers", "models"]},
                    },
                    "sizes": {"type": "object", "additionalProperties": _SHAPE},
                    "compile_sizes": {"type": "array", "items": _SIZE},
                    "peer_sizes": {"type": "array", "items": _SIZE},
                    "rounds": {"type": "integer", "minimum": 1},
                    "min_block_s": _NUMBER,
                    "variant_budget_s": _OPT_NUMBER,
                    "copy_megabytes": {"type": "integer", "minimum": 1},
                    "warmup": {"type": "integer"},
                    "seed": {"type": "integer"},
                },
                # optional: results files written before the recurrent group existed stay valid
                {
                    "recurrent_sizes": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": _SHAPE},
                    },
                },
            ),
            "copy_bandwidth": _object(
                {
                    "buffer_bytes": {"type": "integer"},
                    "bytes_moved": {"type": "integer"},
                    "time": {"$ref": "#/$defs/stats"},
                    "bytes_per_s": _NUMBER,
                }
            ),
            "ops": {
                "type": "array",
                "items": _object(
                    {
                        "op": _STRING,
                        "group": _STRING,
                        "mode": _MODE,
                        "size": _SIZE,
                        "shape": _SHAPE,
                        "bytes_moved": {"type": "integer"},
                        "times": {**_TIMES, "required": ["fused", "reference"]},
                        "compile_s": _OPT_NUMBER,
                        "speedup_vs_reference": _NUMBER,
                        "speedup_vs_compiled": _OPT_NUMBER,
                        "bytes_per_s": _NUMBER,
                        "copy_bandwidth_fraction": _NUMBER,
                        "max_abs_error": _OPT_NUMBER,
                    }
                ),
            },
            "targets": {
                "type": "array",
                "items": _object(
                    {
                        "op": _STRING,
                        "mode": _MODE,
                        "size": _STRING,  # an ops[] size or a recurrent case's size
                        "shape": _SHAPE,
                        "metric": _STRING,
                        "value": _OPT_NUMBER,
                        "at_least": _NUMBER,
                        "met": {"type": ["boolean", "null"]},
                    }
                ),
            },
            "skipped": {"type": "array", "items": _object({"what": _STRING, "why": _STRING})},
        },
        optional={
            "recurrent": _object(
                {
                    "decay": _NUMBER,
                    "threshold": _NUMBER,
                    "weight": _STRING,
                    "peers": {
                        "type": "array",
                        "items": _object({"peer": _STRING, "version": _STRING, "mapping": _STRING}),
                    },
                    "cases": {
                        "type": "array",
                        "items": _object(
                            {
                                "op": {"const": "lif_recurrent"},
                                "kind": {"enum": ["hrn", "rsnn"]},
                                "size": _STRING,
                                "mode": _MODE,
                                "shape": _SHAPE,
                                "firing_rate": {"type": "number", "minimum": 0, "maximum": 1},
                                "times": {**_TIMES, "required": ["fused", "reference"]},
                                "speedup_vs_reference": _NUMBER,
                                "speedup_vs_peers": {"type": "object", "additionalProperties": _NUMBER},
                                "product_flops": {"type": "integer"},
                                "product_flop_per_s": _NUMBER,
                                "max_abs_error": _OPT_NUMBER,
                            }
                        ),
                    },
                }
            ),
            "peers": _object(
                {
                    "decay": _NUMBER,
                    "threshold": _NUMBER,
                    "agreement": {
                        "type": "array",
                        "items": _object(
                            {
                                "peer": _STRING,
                                "backend": _STRING,
                                "version": _STRING,
                                "match": {"enum": ["exact", "rescaled"]},
                                "mapping": _STRING,
                                "shape": _SHAPE,
                                "agreement": _object(
                                    {
                                        "spikes_ours": {"type": "integer"},
                                        "spikes_peer": {"type": "integer"},
                                        "spikes_both": {"type": "integer"},
                                        "spike_agreement": {"type": "number", "minimum": 0, "maximum": 1},
                                        "elementwise_agreement": {
                                            "type": "number",
                                            "minimum": 0,
                                            "maximum": 1,
                                        },
                                    }
                                ),
                            }
                        ),
                    },
                    "timings": {
                        "type": "array",
                        "items": _object(
                            {
                                "size": _SIZE,
                                "shape": _SHAPE,
                                "mode": _MODE,
                                "times": {**_TIMES, "required": ["hnn_fast fused"]},
                                "fused_speedup": {"type": "object", "additionalProperties": _NUMBER},
                            }
                        ),
                    },
                }
            ),
            "models": {
                "type": "array",
                "items": _object(
                    {
                        "model": _STRING,
                        "mode": {"enum": ["train", "inference"]},
                        "times": {**_TIMES, "required": ["fused", "reference"]},
                        "speedup": _NUMBER,
                    }
                ),
            },
        },
    ),
}

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
    "integer": int,
    "number": (int, float),
}


def _is(value, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def validate(document, schema: dict = SCHEMA) -> list[str]:
    """The ways `document` breaks `schema` (empty when it conforms), each with its JSON path."""
    errors: list[str] = []
    _check(document, schema, "$", schema, errors)
    return errors


def _check(value, schema: dict, path: str, root: dict, errors: list[str]) -> None:
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        _check(value, root["$defs"][name], path, root, errors)
        return
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, t) for t in types):
            errors.append(f"{path}: expected {' or '.join(types)}, got {type(value).__name__}")
            return
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if _is(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} > {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{path}: {value} <= {schema['exclusiveMinimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                errors.append(f"{path}: missing {key!r}")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                _check(item, properties[key], f"{path}.{key}", root, errors)
            elif extra is False:
                errors.append(f"{path}: unexpected {key!r}")
            elif isinstance(extra, dict):
                _check(item, extra, f"{path}.{key}", root, errors)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(item, schema["items"], f"{path}[{i}]", root, errors)
