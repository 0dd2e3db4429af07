"""Keyset pages from the query string: `cursor` (the next page's, as the previous page gave it) and, in
the API, `limit`. A cursor that is not one of ours is a 400 naming it, never a 500."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import abort, request
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from edms.paging import BadCursor, Page, keyset_page
from edms.web.bounds import query_int
from edms.web.runtime import db

PAGE_SIZE = 50
MAX_PAGE = 200


def page_size() -> int:
    """The page size the request asks for (`limit`, from 1 to MAX_PAGE), PAGE_SIZE by default: for lists paged
    by a function of their own (the deadline dashboard, the stuck records)."""
    size = query_int("limit", PAGE_SIZE, low=1, high=MAX_PAGE)
    assert size is not None
    return size


def page_of(query: Select[Any], keys: Sequence[InstrumentedAttribute[Any]], *, descending: bool = True,
            limit: int | None = None) -> Page[Any]:
    """The page of `query` the request asks for (`cursor`; `limit` when given from 1 to MAX_PAGE)."""
    size = limit if limit is not None else query_int("limit", PAGE_SIZE, low=1, high=MAX_PAGE)
    assert size is not None
    try:
        return keyset_page(db(), query, keys, cursor=request.args.get("cursor") or None, limit=size,
                           descending=descending)
    except BadCursor as exc:
        abort(400, f"'cursor': {exc}; start again from the first page.")


def next_page_args(page: Page[Any], *names: str) -> dict[str, str] | None:
    """The query parameters of the next page's link: the current filter (`names`) and its cursor."""
    if page.next is None:
        return None
    params = {name: request.args[name] for name in (*names, "limit") if request.args.get(name, "").strip()}
    params["cursor"] = page.next
    return params
