"""Reading app.yaml: `${VAR}` interpolation, alias-bomb refusal, validation with every problem at once."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.config.environment import Environment, Settings
from bot.config.schema import _ENV_REF, AppConfig, ConfigError, PlatformConfig, _platform_id
from bot.core.platforms import PLATFORMS


def _interpolate(node: Any, path: str, environ: Mapping[str, str], errors: list[str]) -> Any:
    if isinstance(node, dict):
        # Keys become strings: YAML reads the platform id `1688:` as a number.
        return {
            str(key): _interpolate(value, _join(path, key), environ, errors)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [
            _interpolate(value, f"{path}[{i}]", environ, errors) for i, value in enumerate(node)
        ]
    if not isinstance(node, str):
        return node

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        if name not in environ:
            errors.append(f"{path}: environment variable {name} is not set")
            return ""
        return environ[name]

    return _ENV_REF.sub(replace, node)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out = f"{out}[{part}]" if isinstance(part, int) else _join(out, part)
    return out


MAX_VALUES = 100_000  # values in app.yaml once its aliases are expanded; a real one has hundreds


def _expansion_problem(raw: Any) -> str | None:
    """Why the parsed file cannot be a configuration, counting values as they are once YAML
    aliases (`*name`) are expanded: a few lines of aliases can stand for billions of values, and
    validating them would never end. Counted over the shared objects, so it takes linear time."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(value: Any) -> int:
        if not isinstance(value, dict | list):
            return 1
        key = id(value)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise ValueError("a YAML alias refers to a value that contains it")
        open_.add(key)
        items = list(value.keys()) + list(value.values()) if isinstance(value, dict) else value
        total = 1
        for item in items:
            total += size(item)
            if total > MAX_VALUES:
                break
        open_.discard(key)
        sizes[key] = total
        return total

    try:
        total = size(raw)
    except ValueError as exc:
        return str(exc)
    if total > MAX_VALUES:
        return f"the file stands for more than {MAX_VALUES:,} values once its YAML aliases are expanded"
    return None


def parse_config(
    text: str, *, environ: Mapping[str, str] | None = None, source: str = ""
) -> AppConfig:
    """Validate app.yaml text; raises ConfigError listing every problem with its key path."""
    env = os.environ if environ is None else environ
    try:
        raw = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(
            ["the file nests too deeply to be a configuration"], source=source
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}not valid YAML: {problem}"], source=source) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            ["the file must be a mapping of keys (team, rights_holder, brands, …)"], source=source
        )
    if (problem := _expansion_problem(raw)) is not None:
        raise ConfigError([problem], source=source)
    errors: list[str] = []
    data = _interpolate(raw, "", env, errors)
    # A value whose variable is unset is reported once, as that, not again as empty or mistyped.
    unset = {error.split(": ", 1)[0] for error in errors}
    problems: list[str] = []
    config: AppConfig | None = None
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            elif error["type"] == "missing":
                message = "required key is missing"
            problems.append(f"{_location(tuple(error['loc'])) or '(top level)'}: {message}")
    problems.extend(_check_platforms(data.get("platforms")))
    errors.extend(problem for problem in problems if problem.split(": ", 1)[0] not in unset)
    if config is not None and not errors:
        errors.extend(_notice_gaps(config))
    if errors:
        raise ConfigError(errors, source=source)
    assert config is not None
    return config


def _notice_gaps(config: AppConfig) -> list[str]:
    """What a right's notice would lack (`bot.delivery.elements`): refused here, so neither
    check-config nor serve accepts a configuration whose first report would fail at delivery."""
    from bot.delivery.elements import configuration_gaps

    rights = [right for brand in config.brands for right in brand.rights]
    return configuration_gaps(rights=rights, rights_holder=config.rights_holder)


def _check_platforms(platforms: Any) -> list[str]:
    """Platform ids and each entry's adapter settings.

    Checked on the raw entries, so these problems are reported together with any other problem in
    the file; a key of the wrong type is left to the model, which reports it.
    """
    from bot.delivery.adapters import UnknownAdapterError, validate_adapter_options

    if not isinstance(platforms, dict):
        return []
    errors: list[str] = []
    known = ", ".join(PLATFORMS)
    for name, entry in platforms.items():
        if not isinstance(entry, dict):
            continue
        where = f"platforms.{name}"
        serves = entry.get("serves") or []
        if isinstance(serves, list):
            if name not in PLATFORMS and not serves:
                errors.append(
                    f"{where}: unknown platform id {name!r} (known: {known}); "
                    "a custom channel needs `serves: [platform ids]`"
                )
            for i, item in enumerate(serves):
                served = _platform_id(item)
                if served is not None and served not in PLATFORMS:
                    errors.append(
                        f"{where}.serves[{i}]: unknown platform id {served!r} (known: {known})"
                    )
        adapter = entry.get("adapter", "portal")
        if not isinstance(adapter, str):
            continue
        options = {
            key: value for key, value in entry.items() if key not in PlatformConfig.model_fields
        }
        try:
            errors.extend(validate_adapter_options(adapter, options, where=where))
        except UnknownAdapterError as exc:
            errors.append(f"{where}.adapter: {exc}")
    return errors


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> AppConfig:
    """Read and validate the app.yaml at `path`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"file not found: {file}"], source=str(file)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read {file}: {exc}"], source=str(file)) from None
    return parse_config(text, environ=environ, source=str(file))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The environment, and the app.yaml it points to (`TAKEDOWN_CONFIG`)."""
    env = Environment.from_environ(environ)
    return Settings(config=load_config(env.config_path, environ=environ), env=env)
