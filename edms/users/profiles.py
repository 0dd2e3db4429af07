"""What an account says about its person: the name printed under their signatures, how to reach them,
their time zone and language, and until when they have access."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

LANGUAGES = ("en", "ja")


@dataclass(frozen=True)
class Profile:
    printed_name: str
    title: str = ""
    email: str = ""
    timezone: str = "UTC"
    language: str = "en"
    access_expires_at: datetime | None = None
