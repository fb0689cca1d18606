"""The sync configuration: which DynamoDB tables feed which mirror tables, and how.

Read from a TOML file (``LEADTRAIL_SYNC_CONFIG``; the seed's nine tables ship as
``default.toml``) and validated completely before anything runs, so a typo is one clear
message naming the table and key rather than a failure on the first record.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from leadtrail.errors import ConfigError

TYPES = frozenset(
    {
        "text",
        "integer",
        "bigint",
        "numeric",
        "double",
        "boolean",
        "timestamptz",
        "jsonb",
        "location",
    }
)
DELETE_MODES = frozenset({"hard", "soft"})
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PATH_PART = re.compile(r"^([^.\[\]]+)?((?:\[\d+\])*)$")


def parse_path(path: str) -> tuple[str | int, ...]:
    """``"pages[0].url"`` -> ``("pages", 0, "url")``; ``"."`` is the whole item."""
    if path == ".":
        return ()
    steps: list[str | int] = []
    for part in path.split("."):
        match = _PATH_PART.match(part)
        if not part or match is None:
            raise ValueError(f"bad path {path!r}")
        if match.group(1):
            steps.append(match.group(1))
        steps.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return tuple(steps)


@dataclass(frozen=True)
class FieldSpec:
    column: str
    #: alternatives, first non-empty wins
    paths: tuple[tuple[str | int, ...], ...]
    type: str
    required: bool = False
    #: for ``location``: the city, region and country columns it fills
    columns: tuple[str, ...] = ()

    @property
    def target_columns(self) -> tuple[str, ...]:
        return self.columns if self.type == "location" else (self.column,)


@dataclass(frozen=True)
class TableSpec:
    source: str
    target: str
    key: tuple[tuple[str, tuple[str | int, ...]], ...]
    fields: tuple[FieldSpec, ...]
    version: tuple[str | int, ...] | None
    delete: str
    region: str | None = None

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.key)

    @property
    def value_columns(self) -> tuple[str, ...]:
        return tuple(c for f in self.fields for c in f.target_columns)


@dataclass(frozen=True)
class SyncConfig:
    tables: dict[str, TableSpec]
    source: str

    def table(self, name: str) -> TableSpec:
        try:
            return self.tables[name]
        except KeyError:
            known = ", ".join(sorted(self.tables)) or "none"
            raise ConfigError(
                f"{self.source}: no table {name!r} is configured (known: {known})"
            ) from None

    def by_target(self, target: str) -> TableSpec:
        for spec in self.tables.values():
            if spec.target == target:
                return spec
        raise ConfigError(f"{self.source}: no configured table mirrors into {target!r}")


def _ident(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _IDENT.match(value):
        raise ConfigError(f"{where}: {value!r} is not a valid column or table name")
    return value


def _paths(value: Any, where: str) -> tuple[tuple[str | int, ...], ...]:
    raw = value if isinstance(value, list) else [value]
    if not raw or not all(isinstance(p, str) and p for p in raw):
        raise ConfigError(f"{where}.path: expected a path or a list of paths")
    try:
        return tuple(parse_path(p) for p in raw)
    except ValueError as exc:
        raise ConfigError(f"{where}.path: {exc}") from None


def _field(column: str, value: Any, where: str) -> FieldSpec:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table like {{ path = ..., type = ... }}")
    unknown = set(value) - {"path", "type", "required", "columns"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    kind = value.get("type", "text")
    if kind not in TYPES:
        raise ConfigError(f"{where}.type: {kind!r} is not one of {', '.join(sorted(TYPES))}")
    columns: tuple[str, ...] = ()
    if kind == "location":
        cols = value.get("columns")
        if not isinstance(cols, list) or len(cols) != 3:
            raise ConfigError(f"{where}.columns: a location needs [city, region, country]")
        columns = tuple(_ident(c, f"{where}.columns") for c in cols)
    elif "columns" in value:
        raise ConfigError(f"{where}.columns: only a location fills several columns")
    required = value.get("required", False)
    if not isinstance(required, bool):
        raise ConfigError(f"{where}.required: expected true or false")
    return FieldSpec(column, _paths(value.get("path"), where), kind, required, columns)


def _table(source: str, raw: Any, where: str) -> TableSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(raw) - {"target", "key", "fields", "version", "delete", "region"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    target = _ident(raw.get("target"), f"{where}.target")
    key_raw = raw.get("key")
    if not isinstance(key_raw, dict) or not key_raw:
        raise ConfigError(f'{where}.key: expected {{ column = "path" }}')
    key = tuple(
        (_ident(col, f"{where}.key"), _paths(path, f"{where}.key.{col}")[0])
        for col, path in key_raw.items()
    )
    fields_raw = raw.get("fields", {})
    if not isinstance(fields_raw, dict):
        raise ConfigError(f"{where}.fields: expected a table of columns")
    fields = tuple(
        _field(_ident(col, f"{where}.fields"), spec, f"{where}.fields.{col}")
        for col, spec in fields_raw.items()
    )
    seen: set[str] = set()
    for column in [c for c, _ in key] + [c for f in fields for c in f.target_columns]:
        if column in seen:
            raise ConfigError(f"{where}: column {column!r} is filled twice")
        seen.add(column)
    version = raw.get("version")
    if version is not None and not isinstance(version, str):
        raise ConfigError(f"{where}.version: expected a path")
    delete = raw.get("delete", "hard")
    if delete not in DELETE_MODES:
        raise ConfigError(f'{where}.delete: expected "hard" or "soft", not {delete!r}')
    region = raw.get("region")
    if region is not None and not isinstance(region, str):
        raise ConfigError(f"{where}.region: expected a string")
    return TableSpec(
        source=source,
        target=target,
        key=key,
        fields=fields,
        version=_paths(version, f"{where}.version")[0] if version else None,
        delete=delete,
        region=region,
    )


def parse(text: str, source: str) -> SyncConfig:
    """A validated configuration from TOML text; ``ConfigError`` names what is wrong."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    tables = raw.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f'{source}: no [tables."<name>"] sections')
    specs = {name: _table(name, spec, f"{source}: tables.{name}") for name, spec in tables.items()}
    targets = [s.target for s in specs.values()]
    for target in targets:
        if targets.count(target) > 1:
            raise ConfigError(f"{source}: two source tables mirror into {target!r}")
    return SyncConfig(specs, source)


def load(path: str | None = None) -> SyncConfig:
    """The file at ``path``, or the shipped configuration for the seed's tables."""
    if not path:
        text = resources.files("leadtrail.sync").joinpath("default.toml").read_text("utf-8")
        return parse(text, "default.toml")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"sync config {path}: {exc.strerror or exc}") from None
    return parse(text, path)
