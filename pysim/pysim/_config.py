"""pysim.Config: the simulator's configuration, through the C++ schema itself.

Keys, types, defaults, parsers, checks and error messages are the CLI's
(`pagesim config --dump`): every value is handed to the C++ Configuration as text, exactly
as `--set key=value` would be, so there is no second copy of the schema in Python.

Sources, lowest to highest: built-in defaults, a CPU preset (``preset="zen4"``, the CLI's
``--preset``), a TOML file, a dict of overrides, keyword overrides (``tlb__l1d__ways=8`` is
``tlb.l1d.ways``, since a keyword cannot hold a dot).
"""

from __future__ import annotations

import numbers
import os
import re
from typing import Any, Iterable, Mapping

from . import _pysim

__all__ = ["Config", "ConfigError", "schema", "keyword_to_key", "presets"]


class ConfigError(ValueError):
    """An unknown key, an impossible value or a value out of the key's bounds, or keys whose
    values contradict each other (``host.load`` above ``host.memory`` plus ``host.swap``).
    ``key`` is the key named first (``keys``: every key named), the message is the
    simulator's own, as the CLI prints it (where the CLI exits with status 2)."""

    def __init__(self, message: str, keys: Iterable[str] = ()):
        super().__init__(message)
        self.keys = list(keys)
        self.key = self.keys[0] if self.keys else None


def keyword_to_key(name: str) -> str:
    """``tlb__l1d__ways`` -> ``tlb.l1d.ways``: dots as double underscores, for keywords."""
    return name.replace("__", ".")


def value_text(value: Any) -> str:
    """A Python value as the text the CLI's ``--set key=value`` would carry."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise TypeError(f"{value!r}: a configuration value is a bool, a number or a string")


_KEY_BEFORE_REASON = re.compile(r"(?:^|: )([A-Za-z0-9_.]+): ")
_UNKNOWN_KEY = re.compile(r"unknown configuration key '([^']*)'")


def _keys_of_message(message: str) -> list[str]:
    """The keys a simulator message names, one per line, in order.

    Schema::validate() reports one failure a line, "<key>: <reason>"; a value set from a
    source carries its origin first ("--set: <key>: <reason>", "cfg.toml:12: <key>: ...");
    an unknown key is quoted ("unknown configuration key 'x'"). The key of a line is the
    first "<name>: " that is a known key (an origin such as "cfg.toml:12" is not one).
    """
    known = {f["key"] for f in schema()}
    keys = []
    for line in message.splitlines():
        unknown = _UNKNOWN_KEY.search(line)
        if unknown:
            keys.append(unknown.group(1))
            continue
        for m in _KEY_BEFORE_REASON.finditer(line):
            if m.group(1) in known:
                keys.append(m.group(1))
                break
    return keys


_SCHEMA: list[dict] | None = None


def schema() -> list[dict]:
    """Every key in declaration order: ``key``, ``type``, ``doc``, ``note``, ``limits`` (the
    values its checks allow, as `config --dump` prints them), ``default``."""
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = _pysim.schema()
    return [dict(f) for f in _SCHEMA]


class Config:
    """A validated configuration.

    >>> Config(mode="nested", tlb__l2__entries=2048)
    >>> Config({"tlb.l1d.ways": 8}, file="machine.toml")
    >>> Config(base_config, seed=7)          # a copy with more overrides
    >>> Config(preset="zen4", mode="nested") # a real CPU's TLBs and caches, then overrides

    ``preset``: one of ``pysim.presets()`` (``"host"``: this machine's CPUID, read when the
    Config is built; ``cfg.preset_report`` says what CPUID told and what was assumed),
    applied before the file and the overrides, as `--preset` is.

    Raises ConfigError (naming the key) on an unknown key or an impossible value, at once.
    ``cfg["tlb.l1d.ways"]`` reads the effective value (bytes as int, cycles as int);
    ``cfg.overrides`` are the keys set on top of the defaults (and of the file).
    """

    def __init__(self, base: "Config | Mapping[str, Any] | str | os.PathLike | None" = None,
                 /, *, file: "str | os.PathLike | None" = None, preset: "str | None" = None,
                 **overrides: Any):
        self._file: str | None = None
        self._overrides: dict[str, str] = {}
        self._preset: tuple | None = None  # (name, [(key, value, source)], report)
        assignments: list[tuple[str, Any, str]] = []
        if isinstance(base, Config):
            self._file = base._file
            self._preset = base._preset
            assignments += [(k, v, "Config") for k, v in base._overrides.items()]
        elif isinstance(base, (str, os.PathLike)):
            self._file = os.fspath(base)
        elif isinstance(base, Mapping):
            assignments += [(k, v, "dict") for k, v in base.items()]
        elif base is not None:
            raise TypeError(f"Config({base!r}): expected a Config, a dict of keys or a TOML path")
        if file is not None:
            self._file = os.fspath(file)
        if isinstance(preset, tuple):  # an already resolved preset (unpickling)
            self._preset = preset
        elif preset is not None:
            self._preset = _resolve_preset(preset)
        assignments += [(keyword_to_key(k), v, "keyword argument") for k, v in overrides.items()]
        self._native = self._build(self._file, [], self._preset)
        for key, value, origin in assignments:
            self._assign(key, value, origin)
        self._validate()

    # -- building -------------------------------------------------------------------------

    @staticmethod
    def _build(file: str | None, assignments: list[tuple[str, str, str]],
               preset: tuple | None = None) -> Any:
        native = _pysim.Configuration()
        if preset is not None:
            try:
                native.apply_preset(preset)
            except _pysim.ConfigError as e:
                raise ConfigError(str(e), _keys_of_message(str(e))) from None
        if file is not None:
            try:
                native.load_file(file)
            except _pysim.ConfigError as e:
                raise ConfigError(str(e), _keys_of_message(str(e))) from None
        for key, text, origin in assignments:
            native.set(key, text, origin)
        return native

    def _assign(self, key: str, value: Any, origin: str) -> None:
        try:
            text = value_text(value)
        except TypeError as e:
            raise ConfigError(f"{origin}: {key}: {e}", [key]) from None
        try:
            self._native.set(key, text, origin)
        except _pysim.ConfigError as e:
            raise ConfigError(str(e), [key]) from None
        self._overrides.pop(key, None)
        self._overrides[key] = text

    def _validate(self) -> None:
        try:
            self._native.validate()
        except _pysim.ConfigError as e:
            raise ConfigError(str(e), _keys_of_message(str(e))) from None

    # -- use ------------------------------------------------------------------------------

    def set(self, key: str, value: Any) -> "Config":
        """Sets one key (dotted) and validates; returns self."""
        self._assign(key, value, "Config.set")
        self._validate()
        return self

    def replace(self, overrides: Mapping[str, Any] | None = None, /, **kw: Any) -> "Config":
        """A new Config: this one plus more overrides (a dict of dotted keys, then keywords)."""
        new = Config(self)
        for key, value in (overrides or {}).items():
            new._assign(key, value, "dict")
        for name, value in kw.items():
            new._assign(keyword_to_key(name), value, "keyword argument")
        new._validate()
        return new

    def __getitem__(self, key: str) -> Any:
        try:
            return self._native.value(key)
        except _pysim.ConfigError as e:
            raise KeyError(str(e)) from None

    def __contains__(self, key: str) -> bool:
        return any(f["key"] == key for f in schema())

    def keys(self) -> list[str]:
        return [f["key"] for f in schema()]

    def to_dict(self) -> dict[str, Any]:
        """Every key and its effective value."""
        return dict(self._native.values())

    @property
    def overrides(self) -> dict[str, str]:
        """Keys set above the defaults and the file, as the text handed to the simulator."""
        return dict(self._overrides)

    @property
    def file(self) -> str | None:
        return self._file

    @property
    def preset(self) -> str | None:
        """The preset's name (``preset=``), or None."""
        return self._preset[0] if self._preset else None

    @property
    def preset_report(self) -> str:
        """For ``preset="host"``: what CPUID told and what was assumed; else empty."""
        return self._preset[2] if self._preset else ""

    def preset_values(self) -> tuple | None:
        """The preset as the worker applies it first: (name, [(key, value, source)], report)."""
        return self._preset

    def assignments(self) -> list[tuple[str, str, str]]:
        """(key, text, origin) as the worker re-applies them, after the file."""
        return [(k, v, "pysim") for k, v in self._overrides.items()]

    def dump(self) -> str:
        """The effective configuration as TOML, every key documented (= `config --dump`);
        loads back with Config(path) or `pagesim replay --config`."""
        return self._native.dump()

    def save(self, path: str | os.PathLike) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.dump())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self.dump() == other.dump()

    def __hash__(self) -> int:
        return hash(self.dump())

    def __repr__(self) -> str:
        parts = ([repr(self._file)] if self._file else []) + \
            ([f"preset={self.preset!r}"] if self._preset else []) + \
            [f"{k}={v}" for k, v in self._overrides.items()]
        return f"Config({', '.join(parts)})"

    def __reduce__(self):
        return (_rebuild, (self._file, dict(self._overrides), self._preset))


def _rebuild(file: str | None, overrides: dict[str, str], preset: tuple | None = None) -> Config:
    return Config(overrides, file=file, preset=preset)


def presets() -> list[str]:
    """Every name ``Config(preset=...)`` takes (the CLI's ``--preset``): the named CPUs
    (docs/presets.md) and ``"host"``."""
    return _pysim.preset_names().split(", ")


def _resolve_preset(name: Any) -> tuple:
    if not isinstance(name, str) or name not in presets():
        raise ConfigError(f"preset={name!r}: unknown preset; the presets are: "
                          f"{_pysim.preset_names()}", ["preset"])
    return _pysim.resolve_preset(name)
