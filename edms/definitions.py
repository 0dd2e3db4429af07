"""Reading definition files (document types, regimes): bilingual text and strict TOML tables.

Every problem names the file and the path of the field, so that the person editing a definition can fix
it; unknown keys are errors, so typos never pass silently. Pure: no Flask, no database.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import ClassVar, TypeVar

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

T = TypeVar("T", bound="DefinitionTable")


@dataclass(frozen=True)
class LocalizedText:
    en: str
    ja: str

    def text(self, language: str) -> str:
        return self.ja if language == "ja" else self.en

    def __str__(self) -> str:
        """English: in an error's own text, the audit trail and the API; pages call `text(language)`."""
        return self.en

    @classmethod
    def join(cls, texts: list[LocalizedText]) -> LocalizedText:
        """Several sentences as one text in each language."""
        return cls(en=" ".join(t.en for t in texts), ja="".join(t.ja for t in texts))


class DefinitionTable:
    """One TOML table being read: typed getters that name the file and path on error, and a final check
    that no key was left unread. Subclasses choose the exception raised."""

    error_class: ClassVar[type[ValueError]] = ValueError

    def __init__(self, source: str, path: str, data: object) -> None:
        self.source = source
        self.path = path
        if not isinstance(data, dict):
            raise self.error(f"expected a table, got {type(data).__name__}")
        self.data: dict[str, object] = dict(data)

    def error(self, message: str, key: str | None = None) -> ValueError:
        where = ".".join(part for part in (self.path, key) if part)
        return self.error_class(f"{self.source}: {where or '(top level)'}: {message}")

    def has(self, key: str) -> bool:
        return key in self.data

    def take(self, key: str, kinds: tuple[type, ...], kind_name: str, required: bool) -> object:
        if key not in self.data:
            if required:
                raise self.error("missing (required)", key)
            return None
        value = self.data.pop(key)
        # bool is an int in Python; TOML true must never pass as a number and vice versa.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.error(f"expected {kind_name}, got {value!r}", key)
        return value

    def optional_string(self, key: str) -> str | None:
        value = self.take(key, (str,), "a string", False)
        if isinstance(value, str) and not value.strip():
            raise self.error("must not be empty", key)
        return value if isinstance(value, str) else None

    def string(self, key: str) -> str:
        if key not in self.data:
            raise self.error("missing (required)", key)
        value = self.optional_string(key)
        assert value is not None
        return value

    def identifier(self, key: str) -> str:
        value = self.string(key)
        if not IDENTIFIER.match(value):
            raise self.error(f"'{value}' must be lower-case letters, digits and _ starting with a letter", key)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.take(key, (bool,), "true or false", False)
        return value if isinstance(value, bool) else default

    def integer(self, key: str, *, default: int | None, high: int) -> int | None:
        value = self.take(key, (int,), "an integer", False)
        if not isinstance(value, int):
            return default
        if not 1 <= value <= high:
            raise self.error(f"must be between 1 and {high}", key)
        return value

    def decimal(self, key: str) -> Decimal | None:
        value = self.take(key, (int, float, str), "a number", False)
        if value is None:
            return None
        try:
            number = Decimal(str(value))  # str(): TOML 0.6 stays 0.6, not its binary approximation
        except InvalidOperation:
            raise self.error(f"'{value}' is not a number", key) from None
        if not number.is_finite():
            raise self.error("must be a finite number", key)
        return number

    def optional_localized(self, key: str) -> LocalizedText | None:
        value = self.take(key, (dict,), "a table with en and ja", False)
        if value is None:
            return None
        table = type(self)(self.source, f"{self.path}.{key}" if self.path else key, value)
        text = LocalizedText(en=table.string("en"), ja=table.string("ja"))
        table.finish(("en", "ja"))
        return text

    def localized(self, key: str) -> LocalizedText:
        if key not in self.data:
            raise self.error("missing (required)", key)
        text = self.optional_localized(key)
        assert text is not None
        return text

    def tables(self: T, key: str, required: bool = True) -> list[T]:
        value = self.take(key, (list,), "an array of tables", required)
        items: list[object] = value if isinstance(value, list) else []
        prefix = f"{self.path}.{key}" if self.path else key
        return [type(self)(self.source, f"{prefix}[{index}]", item) for index, item in enumerate(items)]

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.take(key, (list,), "an array of strings", False)
        items: list[object] = value if isinstance(value, list) else []
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise self.error(f"expected a string, got {item!r}", f"{key}[{index}]")
        return tuple(str(item) for item in items)

    def finish(self, expected: tuple[str, ...]) -> None:
        if self.data:
            key = next(iter(self.data))
            raise self.error(f"unknown key '{key}' (expected one of {', '.join(expected)})", key)
