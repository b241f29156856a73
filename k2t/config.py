"""Project defaults: ``[tool.k2t]`` and ``[tool.black]`` in the nearest pyproject.toml.

The nearest pyproject.toml is looked for from the first source path upward (the current directory for
standard input), stopping at the project root (a directory holding ``.git`` or ``.hg``), as black does.

``[tool.k2t]`` keys (all optional)::

    [tool.k2t]
    exclude = ["legacy/*", "*.torch.py"]   # globs, added to --exclude
    select = ["K2T1", "K2T5"]              # code prefixes to report (default: all)
    ignore = ["K2T104"]                    # code prefixes not to report
    line-length = 100                      # black's line length for the output
    target-version = ["py310"]             # black's target versions for the output
    torch-optimizers = true                # torch's built-in optimizers (default: Keras's exact updates)

``line-length`` and ``target-version`` default to the project's ``[tool.black]`` settings, then to
black's defaults. Options given on the command line win over the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

__all__ = ["Config", "ConfigError", "find_pyproject", "load_config", "code_filter"]

_KEYS = {"exclude", "select", "ignore", "line-length", "target-version", "torch-optimizers"}


class ConfigError(Exception):
    """An unusable pyproject.toml; str() is one line naming the file."""


@dataclass(frozen=True)
class Config:
    path: Path | None = None  # the pyproject.toml read, if any
    exclude: tuple[str, ...] = ()
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    line_length: int | None = None
    target_versions: tuple[str, ...] = ()
    torch_optimizers: bool = False


def find_pyproject(start: str | os.PathLike[str] | None) -> Path | None:
    """The nearest pyproject.toml at or above ``start`` (a file or directory), within the project."""
    here = Path(start) if start not in (None, "-") else Path.cwd()
    try:
        here = here.resolve()
    except (OSError, RuntimeError):
        return None
    if not here.is_dir():
        here = here.parent
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
        if (directory / ".git").exists() or (directory / ".hg").exists():
            return None
    return None


def _strings(value, key: str, path: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: [tool.k2t] {key} must be a string or a list of strings")
    return tuple(value)


def _target_versions(value, section: str, path: Path) -> tuple[str, ...]:
    import black

    versions = _strings(value, "target-version", path)
    known = {v.name.lower() for v in black.TargetVersion}
    for version in versions:
        if version.lower() not in known:
            raise ConfigError(f"{path}: [{section}] target-version {version!r} is not one of black's versions")
    return tuple(v.lower() for v in versions)


def _line_length(value, section: str, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{path}: [{section}] line-length must be a positive integer")
    return value


def load_config(start: str | os.PathLike[str] | None) -> Config:
    """Read the defaults that apply to ``start``; a Config with no values when there is no file."""
    path = find_pyproject(start)
    if path is None or tomllib is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {' '.join(str(exc).split())}") from None
    tool = data.get("tool", {})
    k2t = tool.get("k2t", {}) if isinstance(tool, dict) else {}
    black_section = tool.get("black", {}) if isinstance(tool, dict) else {}
    if not isinstance(k2t, dict) or not isinstance(black_section, dict):
        raise ConfigError(f"{path}: [tool.k2t] and [tool.black] must be tables")
    unknown = sorted(set(k2t) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown [tool.k2t] key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")

    line_length = None
    if "line-length" in k2t:
        line_length = _line_length(k2t["line-length"], "tool.k2t", path)
    elif "line-length" in black_section:
        line_length = _line_length(black_section["line-length"], "tool.black", path)
    targets: tuple[str, ...] = ()
    if "target-version" in k2t:
        targets = _target_versions(k2t["target-version"], "tool.k2t", path)
    elif "target-version" in black_section:
        targets = _target_versions(black_section["target-version"], "tool.black", path)
    torch_optimizers = k2t.get("torch-optimizers", False)
    if not isinstance(torch_optimizers, bool):
        raise ConfigError(f"{path}: [tool.k2t] torch-optimizers must be true or false")
    return Config(
        path=path,
        exclude=_strings(k2t.get("exclude", []), "exclude", path),
        select=_codes(_strings(k2t.get("select", []), "select", path)),
        ignore=_codes(_strings(k2t.get("ignore", []), "ignore", path)),
        line_length=line_length,
        target_versions=targets,
        torch_optimizers=torch_optimizers,
    )


def _codes(values) -> tuple[str, ...]:
    """Split comma-separated code prefixes: ("K2T1,K2T5", "K2T9") -> ("K2T1", "K2T5", "K2T9")."""
    return tuple(part.strip().upper() for value in values for part in value.split(",") if part.strip())


def code_filter(select: tuple[str, ...], ignore: tuple[str, ...]):
    """A predicate on codes: selected (by prefix; everything when ``select`` is empty) and not ignored."""
    select, ignore = _codes(select), _codes(ignore)

    def keep(code: str) -> bool:
        if select and not any(code.startswith(prefix) for prefix in select):
            return False
        return not any(code.startswith(prefix) for prefix in ignore)

    return keep
