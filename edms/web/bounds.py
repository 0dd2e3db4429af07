"""What a request may carry before a use case sees it: whole numbers a database column can hold, JSON
of bounded depth with valid Unicode. Anything else is a 404 (a path) or a 400 naming the parameter,
never an overflow in the database or a recursion error in the parser."""
from __future__ import annotations

import json
import math
import re
from urllib.parse import unquote_to_bytes

from flask import abort, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, ValidationError

from edms.plaintext import has_surrogates
from edms.web.multipart_text import invalid_multipart_field

# The largest value of a BIGINT (and of SQLite's INTEGER): ids, sequence numbers and limits stay below it.
DB_INT_MAX = 2**63 - 1
# Every body edms takes is flat or one level of values deep; a few levels more leave room for clients.
MAX_JSON_DEPTH = 16
_WHOLE_NUMBER = re.compile(r"[+-]?\d{1,19}")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


class HostileInput(Exception):
    """A request value no use case could take; the message says which and why."""


class IdConverter(IntegerConverter):
    """`<int:...>` in a URL: an id a database column can hold; longer or larger is a 404."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        # NotFound, not ValidationError: werkzeug would then answer 405 when the same path has a rule for
        # another method, but an id no column can hold names nothing, whatever the method.
        if len(value) > 19:
            raise NotFound()
        try:
            return super().to_python(value)
        except ValidationError:
            raise NotFound() from None


def db_int(text: str) -> int:
    """A whole number a database column holds; ValueError otherwise (for `request.form.get(type=db_int)`)."""
    if not _WHOLE_NUMBER.fullmatch(text.strip()):
        raise ValueError(f"not a whole number a database can hold: {text[:40]!r}")
    value = int(text)
    if abs(value) > DB_INT_MAX:
        raise ValueError(f"not a whole number a database can hold: {text[:40]!r}")
    return value


def query_int(name: str, default: int | None = None, *, low: int = 0, high: int = DB_INT_MAX) -> int | None:
    """The query parameter `name` as a whole number from `low` to `high`; a 400 naming it otherwise."""
    text = request.args.get(name, "")
    if not text.strip():
        return default
    try:
        value = db_int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        abort(400, f"'{name}' must be a whole number from {low} to {high}.")
    return value


def json_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text, counted without parsing it (strings skipped)."""
    depth = deepest = 0
    for bracket in _JSON_STRING.sub(b'""', data).translate(None, _NOT_BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _whole_number(text: str) -> int:
    if len(text.lstrip("-")) > 19 or abs(int(text)) > DB_INT_MAX:
        raise HostileInput(f"A whole number in the body is out of range (at most {DB_INT_MAX}): {text[:40]}…")
    return int(text)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise HostileInput(f"A number in the body is out of range: {text[:40]}")
    return value


def _refuse_constant(name: str) -> float:
    raise HostileInput(f"{name} is not a number JSON allows.")


def _check_strings(value: object, where: str) -> None:
    if isinstance(value, str) and has_surrogates(value):
        raise HostileInput(f"'{where or 'the body'}' holds a lone surrogate: text must be valid Unicode.")
    if isinstance(value, str) and "\x00" in value:
        raise HostileInput(f"'{where or 'the body'}' holds a NUL character (U+0000).")
    if isinstance(value, dict):
        for key, item in value.items():
            shown = key.encode("utf-8", "backslashreplace").decode("utf-8")
            path = f"{where}.{shown}" if where else shown
            _check_strings(key, path)
            _check_strings(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{where}[{index}]")


def parse_json(data: bytes) -> object:
    """The JSON value of `data`, None when it is not JSON; HostileInput when it nests deeper than
    MAX_JSON_DEPTH, holds numbers out of range or lone surrogates."""
    if json_depth(data) > MAX_JSON_DEPTH:
        raise HostileInput(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.")
    try:
        value = json.loads(data, parse_int=_whole_number, parse_float=_finite, parse_constant=_refuse_constant)
    except ValueError:
        return None
    _check_strings(value, "")
    return value


def invalid_utf8_field(encoded: bytes) -> str | None:
    """The name of the first field of a URL-encoded query or form whose bytes are not UTF-8 (a lone surrogate
    sent as %ED%A0%80, a stray %FF), which werkzeug would otherwise read as U+FFFD and store; None when all are."""
    for part in encoded.split(b"&"):
        name, _, value = part.partition(b"=")
        for piece in (name, value):
            try:
                unquote_to_bytes(piece.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return unquote_to_bytes(name).decode("utf-8", "replace").replace("\x00", "")
    return None


def refuse_invalid_utf8() -> None:
    """Before every request, first of all (before the CSRF check reads the form): no query or form field (URL-encoded
    or multipart: names, values, file names) may hold bytes that are not UTF-8, which werkzeug would read as
    U+FFFD: text would be stored other than sent."""
    if not request.query_string and not request.environ.get("CONTENT_TYPE"):
        return  # no query, no form: nothing to check (most API reads)
    invalid = invalid_utf8_field(request.query_string)
    if invalid is None and request.mimetype == "application/x-www-form-urlencoded":
        invalid = invalid_utf8_field(request.get_data(cache=True))
    boundary = request.mimetype_params.get("boundary")
    if invalid is None and request.mimetype == "multipart/form-data" and boundary:
        invalid = invalid_multipart_field(request.get_data(cache=True), boundary)  # file contents stay binary
    if invalid is not None:
        abort(400, f"'{invalid}' is not valid UTF-8 text (a lone surrogate or a stray byte).")


def refuse_nul_characters() -> None:
    """Before every request: no query or form value may hold U+0000, which no text column can store."""
    if not request.query_string and not request.environ.get("CONTENT_TYPE"):
        return  # no query, no form: nothing to check (most API reads)
    values = [*request.args.items(multi=True)]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += request.form.items(multi=True)
    for name, value in values:
        # A multipart part whose header werkzeug cannot read has no name (None): nothing it holds is read.
        name, value = name or "", value or ""
        if "\x00" in name or "\x00" in value:
            abort(400, f"'{name.replace(chr(0), '')}' holds a NUL character (U+0000).")


def request_json() -> object:
    """The request's JSON body (None if it has none); a 400 naming the problem for a hostile one."""
    if not request.is_json:
        return None
    try:
        return parse_json(request.get_data(cache=True))
    except HostileInput as exc:
        abort(400, str(exc))
