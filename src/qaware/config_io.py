"""YAML in and out for :class:`qaware.config.QawareConfig`, with errors that name the key path.

``load_config`` turns every pydantic error into one :class:`~qaware.errors.ConfigError` whose
lines read ``file.yaml:12 campaign.oracle.levle: unknown key, did you mean 'level'?``.
``config_template`` writes every option with its default and a comment saying what it does.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from qaware.config import QawareConfig
from qaware.errors import ConfigError

__all__ = [
    "config_template",
    "dump_config",
    "load_config",
    "parse_config",
    "read_yaml_text",
    "validate_yaml",
]


def load_config(path: str | Path) -> QawareConfig:
    """Read and validate a YAML config; ConfigError names file, line and key of any problem."""
    return validate_yaml(read_yaml_text(path, "config file"), QawareConfig, source=str(path))


def config_sha256(config: QawareConfig) -> str:
    """sha256 of ``config`` as this qaware reads it (every field, defaults filled in)."""
    from qaware._canonical import canonical_sha256

    return canonical_sha256(config.model_dump(mode="json"))


def differs_from_recorded(config: QawareConfig, run_dir: str | Path) -> bool:
    """Whether ``config`` differs from the one recorded in ``run_dir/config.yaml``, both read by
    this qaware: a field added to qaware after the run was recorded takes its default on both
    sides, so upgrading qaware does not orphan a run (the recorded hash would). A recorded
    config this qaware cannot read counts as different."""
    try:
        recorded = load_config(Path(run_dir) / "config.yaml")
    except ConfigError:
        return True
    return config_sha256(recorded) != config_sha256(config)


def read_yaml_text(path: str | Path, what: str) -> str:
    """The text of ``path``; ConfigError ("<path>: <what> not found" ...) if it cannot be read."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc})") from None


def parse_config(text: str, *, source: str = "<string>") -> QawareConfig:
    """Validate YAML text; ``source`` names it in error messages."""
    return validate_yaml(text, QawareConfig, source=source)


M = TypeVar("M", bound=BaseModel)


def validate_yaml(
    text: str, model: type[M], *, source: str = "<string>", what: str = "configuration"
) -> M:
    """Parse YAML ``text`` into ``model``; one ConfigError lists every problem with file:line,
    key path and, for an unknown key, the closest known one. Used for every YAML qaware reads."""
    try:
        raw = yaml.safe_load(text)
        lines = _key_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML ({problem})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of sections, got {type(raw).__name__}"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, model, source, lines, what)) from None


def dump_config(config: QawareConfig, path: str | Path | None = None) -> str:
    """The resolved config as YAML (every value explicit); written to ``path`` when given."""
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


# ------------------------------------------------------------------------------------------
# error formatting


def _format_errors(
    exc: ValidationError, model: type[BaseModel], source: str, lines: dict[tuple, int], what: str
) -> str:
    messages = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        named = _KEY_PATH.match(msg)
        if not loc and named:  # a whole-model check whose message starts with its key path
            loc = tuple(int(p) if p.isdigit() else p for p in named.group(1).split("."))
            msg = named.group(2)
        dotted = _dotted(loc)
        line = _nearest_line(loc, lines)
        where = f"{source}:{line}" if line else source
        if err["type"] == "extra_forbidden":
            known = _fields_at(model, loc[:-1])
            hint = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            msg = "unknown key" + (
                f", did you mean '{hint[0]}'?" if hint else f" (known: {', '.join(known)})"
            )
        elif "input" in err and err["type"] != "missing" and not isinstance(err["input"], dict):
            msg += f" (got {err['input']!r})"
        messages.append(f"{where} {dotted}: {msg}")
    if len(messages) == 1:  # one line: "file.yaml:12 campaign.budget: ... (got -5)"
        return messages[0]
    head = f"{source}: {len(messages)} problem(s) in the {what}"
    return head + "\n  " + "\n  ".join(messages)


def _dotted(loc: tuple) -> str:
    """``campaign.budget``, ``oracles.0.level``; a key that is not a plain name is quoted
    (``run.':'``) so that the path stays readable. ``(top level)`` for the empty path."""
    parts = [str(p) if isinstance(p, int) or _PLAIN_KEY.match(str(p)) else repr(p) for p in loc]
    return ".".join(parts) or "(top level)"


_PLAIN_KEY = re.compile(r"[A-Za-z_][\w\-]*$")
_KEY_PATH = re.compile(r"([A-Za-z_][\w.]*): (.*)", flags=re.S)


def _model_of(annotation: Any) -> Any:
    """Unwrap Optional/list/dict annotations down to a BaseModel class (or None)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
        return None
    if origin in (list, tuple, dict):
        args = typing.get_args(annotation)
        return _model_of(args[-1]) if args else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (nested) model reached by following ``loc`` from ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue  # a list index: same item model
        if current is None or part not in current.model_fields:
            return []
        current = _model_of(current.model_fields[part].annotation)
    return list(current.model_fields) if current is not None else []


def _key_lines(text: str) -> dict[tuple, int]:
    """Map each key path in the YAML text to its 1-based line number."""
    out: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = (*path, key_node.value)
                out[key] = key_node.start_mark.line + 1
                walk(value_node, key)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                out[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return out


def _nearest_line(loc: tuple, lines: dict[tuple, int]) -> int | None:
    for n in range(len(loc), 0, -1):
        key = tuple(str(p) if not isinstance(p, int) else p for p in loc[:n])
        if key in lines:
            return lines[key]
    return None


# ------------------------------------------------------------------------------------------
# commented template


def config_template() -> str:
    """Every option with its default value, each preceded by a comment saying what it does."""
    out = [
        "# qaware run configuration (YAML). Every option is shown with its default.",
        "# Unknown keys and wrong types are errors that name the key path and the line.",
        "",
    ]
    defaults = QawareConfig().model_dump(mode="json")
    for name, field in QawareConfig.model_fields.items():
        sub = _model_of(field.annotation)
        if field.description:
            out.append(f"# {field.description}")
        if sub is not None and isinstance(defaults[name], dict):
            out.append(f"{name}:")
            _template_section(sub, defaults[name], out, indent="  ")
        else:
            if sub is not None:
                out.extend(f"#   {key}: {f.description}" for key, f in sub.model_fields.items())
            dumped = yaml.safe_dump({name: defaults[name]}, sort_keys=False).rstrip().splitlines()
            out.extend(dumped)
        out.append("")
    return "\n".join(out)


def _template_section(model: type[BaseModel], values: dict, out: list[str], indent: str) -> None:
    for key, field in model.model_fields.items():
        if field.description:
            out.append(f"{indent}# {field.description}")
        dumped = yaml.safe_dump({key: values[key]}, sort_keys=False, default_flow_style=False)
        for line in dumped.rstrip().splitlines():
            out.append(indent + line)
