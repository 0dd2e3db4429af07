"""Loading the regimes: one TOML file per regime in `forms/regimes/`, validated strictly at start-up, and
the checks that span a whole file or several files (prerequisite cycles, one default per jurisdiction)."""
from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

from edms.cases.regimes.model import JURISDICTIONS, Regime, RegimeDocument, RegimeError
from edms.cases.regimes.parsing import (
    RegimeContext,
    RegimeTable,
    parse_condition,
    parse_deadline,
    parse_document,
    parse_retention,
)
from edms.documents.types import DocumentType

_TOP_KEYS = (
    "key", "jurisdiction", "default", "variant_of", "name", "description", "source", "release", "holidays",
    "conditions", "documents", "deadlines", "retention",
)


def _check_cycles(tables: list[RegimeTable], documents: list[RegimeDocument]) -> None:
    graph = {document.type_key: document.prerequisites for document in documents}
    state: dict[str, str] = {}  # "visiting" on the current path, "done" when proven acyclic

    def visit(key: str, path: list[str]) -> None:
        state[key] = "visiting"
        for prerequisite in graph[key]:
            if state.get(prerequisite) == "visiting":  # on the current path
                cycle = [*path[path.index(prerequisite):], prerequisite]
                index = next(i for i, document in enumerate(documents) if document.type_key == cycle[0])
                raise tables[index].error(f"cycle in prerequisites: {' → '.join(cycle)}", "prerequisites")
            if prerequisite not in state:
                visit(prerequisite, [*path, prerequisite])
        state[key] = "done"

    for document in documents:
        if document.type_key not in state:
            visit(document.type_key, [document.type_key])


def _check_unique(tables: list[RegimeTable], names: list[str], what: str, field: str) -> None:
    seen: set[str] = set()
    for table, name in zip(tables, names, strict=True):
        if name in seen:
            raise table.error(f"duplicate {what} '{name}'", field)
        seen.add(name)


def _parse_holidays(top: RegimeTable) -> frozenset[date]:
    raw = top.take("holidays", (list,), "an array of dates", False)
    days: set[date] = set()
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, date) or isinstance(item, datetime):
            raise top.error(f"expected a date such as 2026-12-25 (no quotes), got {item!r}", f"holidays[{index}]")
        days.add(item)
    return frozenset(days)


def _load_file(path: Path, types: Mapping[str, DocumentType]) -> Regime:
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RegimeError(f"{path}: not valid UTF-8 TOML: {exc}") from None
    top = RegimeTable(str(path), "", data)
    key = top.identifier("key")
    jurisdiction = top.string("jurisdiction")
    if jurisdiction not in JURISDICTIONS:
        raise top.error(f"unknown jurisdiction '{jurisdiction}' (expected one of {', '.join(JURISDICTIONS)})",
                        "jurisdiction")
    default, variant_of = top.boolean("default", False), top.optional_string("variant_of")
    name, description, source = top.localized("name"), top.localized("description"), top.string("source")
    release, holidays = top.identifier("release"), _parse_holidays(top)
    # Every regime says how long its records are kept (21 CFR 11.10(c)); a record type may differ.
    retention = parse_retention(top.subtable("retention"), "retention")
    condition_tables = top.tables("conditions", required=False)
    document_tables, deadline_tables = top.tables("documents"), top.tables("deadlines", required=False)
    top.finish(_TOP_KEYS)
    if not document_tables:
        raise top.error("at least one document is required", "documents")

    # Listed types first, so that prerequisites, anchors and tests may refer to any of them.
    listed: list[str] = []
    for table in document_tables:
        type_key = table.data.get("type")
        if isinstance(type_key, str):
            if type_key in listed:
                raise table.error(f"duplicate document '{type_key}'", "type")
            listed.append(type_key)
    ctx = RegimeContext(types, set(listed), {}, set())
    for table in condition_tables:
        condition = parse_condition(table, ctx)
        if condition.key in ctx.conditions:
            raise table.error(f"duplicate condition '{condition.key}'", "key")
        ctx.conditions[condition.key] = condition
    documents = [parse_document(table, ctx) for table in document_tables]
    _check_cycles(document_tables, documents)
    if release not in ctx.listed:
        raise top.error(f"'{release}' is not one of this regime's documents", "release")
    if documents[listed.index(release)].condition is not None:
        raise top.error(f"the release document '{release}' cannot be conditional", "release")
    deadlines = [parse_deadline(table, ctx) for table in deadline_tables]
    _check_unique(deadline_tables, [deadline.key for deadline in deadlines], "deadline key", "key")
    starts = {d.anchor.text: d.key for d in deadlines if d.anchor.type_key is not None}
    for table, deadline in zip(deadline_tables, deadlines, strict=True):
        # Starts come from drafts, ends only from approved records: one field cannot be both.
        if deadline.met_by.text in starts:
            raise table.error(f"'{deadline.met_by.text}' is the start of deadline '{starts[deadline.met_by.text]}'",
                              "met_by")
    for index, condition_key in enumerate(ctx.conditions):
        if condition_key not in ctx.used_conditions:
            raise condition_tables[index].error(f"condition '{condition_key}' is declared but never used", "key")
    return Regime(
        key=key,
        jurisdiction=jurisdiction,
        name=name,
        description=description,
        default=default,
        variant_of=variant_of,
        source=source,
        release=release,
        holidays=holidays,
        conditions=dict(ctx.conditions),
        documents=tuple(documents),
        deadlines=tuple(deadlines),
        path=path,
        source_sha256=hashlib.sha256(raw).hexdigest(),
        retention=retention,
    )


def load_regimes(directory: Path, document_types: Mapping[str, DocumentType]) -> dict[str, Regime]:
    """Every `*.toml` in `directory`, keyed by regime key; raises RegimeError on the first problem."""
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise RegimeError(f"{directory}: no regime definitions (*.toml) found")
    regimes: dict[str, Regime] = {}
    for path in paths:
        regime = _load_file(path, document_types)
        if regime.key in regimes:
            raise RegimeError(f"{path}: key: duplicate regime key '{regime.key}' (also in {regimes[regime.key].path})")
        regimes[regime.key] = regime
    for regime in regimes.values():
        if regime.variant_of is None:
            continue
        base = regimes.get(regime.variant_of)
        if base is None or base.variant_of is not None or base.jurisdiction != regime.jurisdiction:
            raise RegimeError(f"{regime.path}: variant_of: '{regime.variant_of}' is not a base regime "
                              f"of jurisdiction {regime.jurisdiction}")
    for jurisdiction in JURISDICTIONS:
        members = [regime for regime in regimes.values() if regime.jurisdiction == jurisdiction]
        defaults = [regime for regime in members if regime.default]
        if members and len(defaults) != 1:
            path = (defaults[1] if defaults else members[0]).path
            raise RegimeError(f"{path}: default: jurisdiction {jurisdiction} needs exactly one default regime "
                              f"(found {len(defaults)})")
    return regimes


def default_regime(regimes: Mapping[str, Regime], jurisdiction: str) -> Regime:
    for regime in regimes.values():
        if regime.jurisdiction == jurisdiction and regime.default:
            return regime
    raise KeyError(f"no default regime for jurisdiction '{jurisdiction}'")
