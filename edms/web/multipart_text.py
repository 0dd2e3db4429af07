"""The text a multipart/form-data body carries (field values, field names, file names) must be UTF-8 without
NUL, as in URL-encoded forms and JSON (edms.web.bounds.refuse_invalid_utf8): werkzeug reads a stray byte or a
lone surrogate (ED A0 80) as U+FFFD, or as Latin-1 when the part says so, and would store text other than
sent. The body is walked with werkzeug's own multipart decoder before the form is read; file contents stay
binary and are not checked."""
from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

CHUNK = 64 * 1024
# An extended parameter of Content-Disposition (RFC 5987 / 8187: filename*=UTF-8''%E6%97%A5...).
_EXTENDED = re.compile(r"""(\w+)\*\s*=\s*([^;]*)""")


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")  # strict: a stray byte or an encoded surrogate is an error
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


def _bad_extended(disposition: str) -> str | None:
    """The first extended parameter (name*, filename*) whose value is not UTF-8 text; None when all are."""
    for parameter, value in _EXTENDED.findall(disposition):
        charset, _, rest = value.strip().strip('"').partition("'")
        encoded = rest.partition("'")[2]
        if charset.lower() not in ("utf-8", "") or not _is_text(unquote_to_bytes(encoded)):
            return parameter.lower()
    return None


def invalid_multipart_field(body: bytes, boundary: str) -> str | None:
    """The name of the first part whose name, file name or (for a field, not a file) value is not UTF-8 text
    or holds a NUL ("a part's header" when werkzeug could not even read its header); None when all are. A body
    werkzeug cannot parse otherwise is left to werkzeug (the form then holds what it could read)."""
    decoder = MultipartDecoder(boundary.encode("latin-1"), max_form_memory_size=None)
    name: str | None = None
    is_file, value = False, bytearray()
    chunks = [body[start:start + CHUNK] for start in range(0, len(body), CHUNK)]
    for chunk in [*chunks, None]:
        decoder.receive_data(chunk)
        while True:
            try:
                event = decoder.next_event()
            except UnicodeDecodeError:
                return "a part's header"
            except ValueError:
                return None  # not a well-formed body: werkzeug's own parser decides
            if isinstance(event, Epilogue):
                return None
            if isinstance(event, NeedData):
                break
            if isinstance(event, Field | File):
                name, is_file, value = event.name, isinstance(event, File), bytearray()
                shown = (name or "").replace("\x00", "")
                bad = _bad_extended(event.headers.get("content-disposition", ""))
                if "\x00" in (name or "") or bad == "name":
                    return shown or "a part's header"
                if bad is not None or (isinstance(event, File) and "\x00" in event.filename):
                    return f"{shown} (its file name)"
            elif isinstance(event, Data) and not is_file:
                value += event.data
                if not event.more_data and not _is_text(bytes(value)):
                    return (name or "").replace("\x00", "")
    return None
