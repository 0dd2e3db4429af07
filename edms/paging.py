"""Keyset pagination: a list is read a page at a time as "the rows after this one" in a total order,
never with OFFSET, so page 1 000 costs what page 1 costs and a row inserted meanwhile neither repeats
nor hides a row of the next page.

The order is given by key columns whose last one is unique (an id), so ties in the first ones are
broken and every row is on exactly one page. The cursor of the next page holds the last row's key
values, base64url-encoded JSON: opaque to clients, and checked when read back (a cursor that is not
one of ours is `BadCursor`, which pages and the API answer with a 400 naming it, never a 500 nor a page
read from a position we never give out: an integer key is a row id, from 1 to 2^63 - 1). A
cursor only narrows a query that already applies the reader's visibility, so forging one shows
nothing more than paging would.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import DateTime, Integer, Select, String, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")
MAX_CURSOR = 512  # characters: a few keys, never more
MAX_ID = 2**63 - 1  # the integer keys of a cursor are row ids, from 1 to the largest the database holds


class BadCursor(ValueError):
    """A cursor this application did not give out (or for another list)."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None  # the cursor of the next page; None on the last one


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"a keyset key must be an int, a str or an aware datetime, not {type(value).__name__}")
    return value


def encode_cursor(values: Sequence[object]) -> str:
    text = json.dumps([_plain(v) for v in values], separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _typed(value: object, like: type) -> object:
    if like is datetime:
        if not (isinstance(value, dict) and set(value) == {"t"} and isinstance(value["t"], str)):
            raise BadCursor("the cursor is not one of this list's")
        try:
            moment = datetime.fromisoformat(value["t"])
        except ValueError:
            raise BadCursor("the cursor is not one of this list's") from None
        if moment.tzinfo is None:
            raise BadCursor("the cursor is not one of this list's")
        return moment
    if like is int and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID):
        raise BadCursor("the cursor is not one of this list's")  # an integer key is a row's id: 1 or more
    if like is str and not isinstance(value, str):
        raise BadCursor("the cursor is not one of this list's")
    return value


def decode_cursor(text: str, kinds: Sequence[type]) -> tuple[object, ...]:
    """The key values a cursor holds, each of the type the list's keys have; BadCursor otherwise."""
    if len(text) > MAX_CURSOR:
        raise BadCursor("the cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = json.loads(raw.decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("the cursor is not one of this list's") from None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise BadCursor("the cursor is not one of this list's")
    return tuple(_typed(value, kind) for value, kind in zip(values, kinds, strict=True))


def _kind(column: InstrumentedAttribute[Any]) -> type:
    sql_type = column.property.columns[0].type
    sql_type = getattr(sql_type, "impl", sql_type)  # a TypeDecorator (UTCDateTime) by the type it stores as
    for kind, like in ((datetime, DateTime), (int, Integer), (str, String)):
        if isinstance(sql_type, like):
            return kind
    raise TypeError(f"a keyset key must be an integer, text or date-time column, not {sql_type!r}")


def after(keys: Sequence[InstrumentedAttribute[Any]], values: Sequence[object], *, descending: bool) -> Any:
    """The condition "comes after `values` in the order of `keys`", spelled out column by column
    (a < x OR (a = x AND b < y)) so both SQLite and PostgreSQL use the index on the keys."""
    clauses = []
    for index, (key, value) in enumerate(zip(keys, values, strict=True)):
        beyond = key < value if descending else key > value
        clauses.append(and_(*[k == v for k, v in zip(keys[:index], values[:index], strict=True)], beyond))
    return or_(*clauses)


def keyset_page(session: Session, query: Select[Any], keys: Sequence[InstrumentedAttribute[Any]], *,
                cursor: str | None, limit: int, descending: bool = True) -> Page[Any]:
    """One page of `query` (ORM entities) ordered by `keys`, starting after `cursor` (None: the first page)."""
    if cursor:
        values = decode_cursor(cursor, [_kind(k) for k in keys])
        query = query.where(after(keys, values, descending=descending))
    query = query.order_by(None).order_by(*[k.desc() if descending else k.asc() for k in keys])
    rows: list[Any] = list(session.scalars(query.limit(limit + 1)))
    items = rows[:limit]
    following = None
    if len(rows) > limit:
        following = encode_cursor([getattr(items[-1], k.key) for k in keys])
    return Page(items, following)


def walks(session: Session, queries: Sequence[Select[Any]], keys: Sequence[InstrumentedAttribute[Any]], *,
          values: Sequence[object] | None, limit: int | None, descending: bool = False) -> list[Any]:
    """Up to `limit` entities in the order of `keys`, after `values` (None: from the first), from disjoint queries
    that an index each walks in that order: one per value of a filter that would otherwise be `IN (...)`, since
    neither SQLite nor PostgreSQL walks an index in key order across the values of an `IN` (they read every
    matching row and sort them). Each query stops after `limit` rows, and their rows are merged. The leading key is
    bounded as well as the keyset condition, so PostgreSQL starts the walk at the cursor instead of filtering up to it."""
    order = [k.desc() if descending else k.asc() for k in keys]
    found: list[Any] = []
    for query in queries:
        if values is not None:
            lead = keys[0] <= values[0] if descending else keys[0] >= values[0]
            query = query.where(lead, after(keys, values, descending=descending))
        query = query.order_by(None).order_by(*order)
        found += session.scalars(query if limit is None else query.limit(limit))
    found.sort(key=lambda row: tuple(getattr(row, k.key) for k in keys), reverse=descending)
    return found if limit is None else found[:limit]
