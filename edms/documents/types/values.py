"""A field's values: cleaning what a person or a client entered into a typed value (or a field-level
error a page can translate), and the canonical JSON form that is hashed and stored."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Self
from zoneinfo import ZoneInfo

from edms.definitions import LocalizedText
from edms.documents.types.model import FieldDef
from edms.errors import N_
from edms.plaintext import UnsafeText, check_text
from edms.timeutil import isoformat_utc, require_aware

_MAX_NUMBER_CHARS = 50


class FieldError(str):
    """A field-level message: the English text, keeping its msgid and parameters so that the pages can
    translate it (the same shape as `edms.errors.UserError`)."""

    message: str
    params: dict[str, object]

    def __new__(cls, message: str, **params: object) -> Self:
        error = super().__new__(cls, message % params if params else message)
        error.message, error.params = message, params
        return error


class InvalidValue(ValueError):
    """A value its field refuses; `error` is the message shown next to the field."""

    def __init__(self, message: str, **params: object) -> None:
        self.error = FieldError(message, **params)
        super().__init__(self.error)


def canonical_value(field: FieldDef, value: object) -> object:
    """The JSON form of a clean value: no floats (numbers are decimal strings), dates ISO, times UTC."""
    if value is None:
        return None
    if field.type == "boolean":
        return bool(value)
    if field.type == "number":
        return format(Decimal(str(value)), "f")  # as entered: 72.0 stays "72.0" (significant figures)
    if field.type == "integer":
        return int(str(value))
    if isinstance(value, datetime):
        return isoformat_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return str(value)


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return all(_is_blank(item) for item in value)
    return False


def clean_value(field: FieldDef, value: object, zone: str | None) -> object:
    """The typed value of one field, None (or [] or False) when left empty; raises InvalidValue."""
    multi = field.type in ("multichoice", "document_refs")
    # HTML forms give lists (MultiDict.to_dict(flat=False)); a one-item list is a single value.
    if not multi and isinstance(value, (list, tuple)):
        items = [item for item in value if not _is_blank(item)]
        if len(items) > 1:
            raise InvalidValue(N_("Only one value is allowed."))
        value = items[0] if items else None
    if _is_blank(value):
        if field.type == "boolean" and not field.required:
            return False  # an unticked checkbox is not sent at all
        if field.required:
            raise InvalidValue(N_("This field is required."))
        return [] if multi else None
    return _CLEANERS[field.type](field, value, zone)


def _clean_text(field: FieldDef, value: object, zone: str | None) -> str:
    if not isinstance(value, str):
        raise InvalidValue(N_("Expected text."))
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    allowed = "\n\t" if field.type == "textarea" else ""
    if any(unicodedata.category(char) == "Cc" and char not in allowed for char in text):
        raise InvalidValue(N_("Contains control characters.") if allowed else N_("Contains control characters or line breaks."))
    try:
        check_text(text, multi_line=field.type == "textarea")
    except UnsafeText as exc:
        raise InvalidValue(exc.message, **exc.params) from None
    if field.max_length is not None and len(text) > field.max_length:
        raise InvalidValue(N_("At most %(limit)s characters are allowed (got %(length)s)."), limit=field.max_length,
                       length=len(text))
    if field.pattern is not None and not field.pattern.fullmatch(text):
        raise InvalidValue(N_("'%(value)s' is not in the expected format (example: %(example)s)."), value=text,
                       example=field.example)
    return text


def _unit_suffix(field: FieldDef) -> str:
    return f" {field.unit}" if field.unit else ""


def _written_digits(number: Decimal) -> int:
    """Digits of the number written out in full: 1e20 has 21, 0.001 has 4, 72.50 has 4."""
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int), "finite numbers only"
    before = max(len(digits) + exponent, 1)
    return before + max(-exponent, 0)


def _check_range(field: FieldDef, number: Decimal) -> None:
    if field.max_digits is not None and _written_digits(number) > field.max_digits:
        raise InvalidValue(N_("The number has too many digits (%(limit)s at most, written out in full)."),
                           limit=field.max_digits)
    if field.minimum is not None and number < field.minimum:
        raise InvalidValue(N_("Must be at least %(limit)s%(unit)s."), limit=field.minimum, unit=_unit_suffix(field))
    if field.maximum is not None and number > field.maximum:
        raise InvalidValue(N_("Must be at most %(limit)s%(unit)s."), limit=field.maximum, unit=_unit_suffix(field))


def _clean_number(field: FieldDef, value: object, zone: str | None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise InvalidValue(N_("Expected a number."))
    text = str(value).strip()
    if len(text) > _MAX_NUMBER_CHARS:
        raise InvalidValue(N_("The number is too long."))
    try:
        number = Decimal(text)  # str(float) keeps what JSON said: 72.5 -> Decimal("72.5")
    except InvalidOperation:
        raise InvalidValue(N_("'%(value)s' is not a number (use a point as decimal separator, e.g. 72.5)."), value=text) from None
    if not number.is_finite():
        raise InvalidValue(N_("Expected a finite number."))
    _check_range(field, number)
    return number


def _clean_integer(field: FieldDef, value: object, zone: str | None) -> int:
    if isinstance(value, bool):
        raise InvalidValue(N_("Expected a whole number."))
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,30}", value.strip()):
        number = int(value.strip())
    else:
        raise InvalidValue(N_("'%(value)s' is not a whole number."), value=value)
    _check_range(field, Decimal(number))
    return number


def _clean_date(field: FieldDef, value: object, zone: str | None) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidValue(N_("'%(value)s' is not a date in the form YYYY-MM-DD."), value=value)


def _clean_datetime(field: FieldDef, value: object, zone: str | None) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidValue(N_("'%(value)s' is not a date and time such as 2026-11-25T21:06+09:00."), value=value) from None
    else:
        raise InvalidValue(N_("Expected a date and time."))
    if moment.tzinfo is None or moment.utcoffset() is None:
        if zone is None:
            raise InvalidValue(N_("Give the time zone offset, e.g. 2026-11-25T21:06+09:00."))
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    try:
        return require_aware(moment)
    except ValueError:
        raise InvalidValue(N_("'%(value)s' is outside the years 1 to 9999 in UTC."), value=value) from None


def _clean_choice(field: FieldDef, value: object, zone: str | None) -> str:
    allowed = [choice.value for choice in field.choices]
    if not isinstance(value, str) or value.strip() not in allowed:
        raise InvalidValue(N_("'%(value)s' is not one of: %(allowed)s."), value=value, allowed=_choice_labels(field))
    return value.strip()


def _choice_labels(field: FieldDef) -> LocalizedText:
    """The choices by their labels (never their keys), in both languages."""
    return LocalizedText(", ".join(choice.label.en for choice in field.choices),
                         "、".join(choice.label.ja for choice in field.choices))


def _clean_multichoice(field: FieldDef, value: object, zone: str | None) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        raise InvalidValue(N_("Expected a list of choices."))
    allowed = [choice.value for choice in field.choices]
    chosen = {item.strip() for item in items if item.strip()}
    unknown = sorted(chosen - set(allowed))
    if unknown:
        raise InvalidValue(N_("Not a valid choice: %(values)s (expected any of: %(allowed)s)."), values=", ".join(unknown),
                       allowed=_choice_labels(field))
    return [value for value in allowed if value in chosen]  # definition order: stable canonical content


_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})


def _clean_boolean(field: FieldDef, value: object, zone: str | None) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidValue(N_("'%(value)s' is not yes or no."), value=value)


def _clean_document_refs(field: FieldDef, value: object, zone: str | None) -> list[str]:
    items = re.split(r"[\s,;]+", value) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        raise InvalidValue(N_("Expected a list of document numbers."))
    refs = list(dict.fromkeys(item.strip() for item in items if item.strip()))
    assert field.ref_pattern is not None, "document_refs fields are resolved by load_document_types"
    wrong = [ref for ref in refs if not field.ref_pattern.fullmatch(ref)]
    if wrong:
        if field.ref_labels:
            types = LocalizedText(", ".join(label.en for label in field.ref_labels),
                                  "、".join(label.ja for label in field.ref_labels))
            raise InvalidValue(N_("Not the number of a record this field accepts (%(types)s): %(numbers)s."),
                               types=types, numbers=", ".join(wrong))
        raise InvalidValue(N_("Not a controlled document number: %(numbers)s."), numbers=", ".join(wrong))
    if field.required and not refs:
        raise InvalidValue(N_("This field is required."))
    return refs


_CLEANERS: dict[str, Callable[[FieldDef, object, str | None], object]] = {
    "text": _clean_text,
    "textarea": _clean_text,
    "number": _clean_number,
    "integer": _clean_integer,
    "date": _clean_date,
    "datetime": _clean_datetime,
    "choice": _clean_choice,
    "multichoice": _clean_multichoice,
    "boolean": _clean_boolean,
    "document_refs": _clean_document_refs,
}
