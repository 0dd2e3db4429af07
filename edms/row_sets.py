"""Several row sets read in ONE statement: a UNION ALL of their SELECTs, each row tagged with the set it belongs to.

A page that shows a record and its parts (a case with its dates, answers and documents; a document with its
versions, attachments and signatures) needs several row sets, and each statement is a round trip and a pass
through SQLAlchemy's execution. A UNION ALL returns them together, but its branches must type every column
alike: so each branch puts its integers, texts, times, booleans and bytes in the columns of that type (the
slots), padded with typed NULLs, and `places` says where each set's columns are in a row, by name. The slots
are worked out from the sets' columns, so a column added to a table is read without a change here. A row
starts with its set's tag and its two ordering values; the rows come by set, then by those values.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Boolean, Integer, LargeBinary, Text, cast, literal_column, null, select, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select
from sqlalchemy.types import TypeEngine

from edms.db import UTCDateTime

# The slots' types, by the Python type of the columns they hold (the union's first SELECT types them).
SLOT_TYPES: dict[type, TypeEngine[Any]] = {  # bytes last (`TaggedUnion.binary_from`)
    int: Integer(), str: Text(), datetime: UTCDateTime(), bool: Boolean(), bytes: LargeBinary()}


@dataclass(frozen=True)
class RowSet:
    columns: tuple[ColumnElement[Any], ...]  # named by `.name` (labels for joined or repeated names)
    order: tuple[ColumnElement[Any], ColumnElement[Any]]  # the order of its rows
    complete: Callable[[Select[Any]], Select[Any]]  # its FROM and WHERE


def zero() -> ColumnElement[Any]:
    """An ordering value for a set whose rows need no order (one row) or one value only."""
    return literal_column("0", Integer())


def _slot_kind(column: ColumnElement[Any]) -> type:
    kind = datetime if isinstance(column.type, UTCDateTime) else column.type.python_type  # (a decorator: object)
    if kind not in SLOT_TYPES:
        raise TypeError(f"column {column.name} of type {column.type!r} has no slot in a tagged union")
    return kind


class TaggedUnion(NamedTuple):
    statement: Any  # the UNION ALL, ordered by tag, then each set's order
    places: dict[int, dict[str, int]]  # where each set's columns are in a row, by name
    binary_from: int  # where a row's bytes slots begin: they are its last columns


def tagged_union(sets: Mapping[int, RowSet]) -> TaggedUnion:
    """The sets' SELECTs as one UNION ALL. Build it once: each read binds its parameters."""
    widths = {kind: max(sum(1 for c in s.columns if _slot_kind(c) is kind) for s in sets.values())
              for kind in SLOT_TYPES}
    first: dict[type, int] = {}
    at = 3  # the tag, and the two ordering columns
    for kind in SLOT_TYPES:
        first[kind], at = at, at + widths[kind]
    selects, places = [], {}
    for tag, row_set in sets.items():
        slots: dict[type, list[ColumnElement[Any]]] = {kind: [] for kind in SLOT_TYPES}
        names = {}
        for column in row_set.columns:
            kind = _slot_kind(column)
            names[column.name] = first[kind] + len(slots[kind])
            slots[kind].append(column)
        listed: list[ColumnElement[Any]] = [literal_column(str(tag), Integer()).label("kind"),
                                            row_set.order[0].label("o1"), row_set.order[1].label("o2")]
        for kind, slot_type in SLOT_TYPES.items():
            filled = slots[kind] + [cast(null(), slot_type)] * (widths[kind] - len(slots[kind]))
            listed += [value.label(f"{kind.__name__}_{index}") for index, value in enumerate(filled)]
        selects.append(row_set.complete(select(*listed)))
        places[tag] = names
    union = union_all(*selects)
    return TaggedUnion(union.order_by(*(union.selected_columns[name] for name in ("kind", "o1", "o2"))), places,
                       first[bytes])
