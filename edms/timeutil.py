"""UTC time and its display in a person's time zone."""
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


def utc_now() -> datetime:
    return datetime.now(UTC)


def require_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetimes are not allowed: give a time zone")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is outside the years 1 to 9999 in UTC") from None


def is_valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone_names() -> list[str]:
    return sorted(available_timezones())


def format_in_zone(value: datetime | None, zone: str = "UTC") -> str:
    """`2026-11-25 21:06:02 JST (UTC+09:00)`: the zone name and offset are always shown."""
    if value is None:
        return ""
    local = require_aware(value).astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} (UTC{offset[:3]}:{offset[3:]})"


def isoformat_utc(value: datetime) -> str:
    """Canonical UTC form used inside hashed and signed records: always a four-digit year (strftime's %Y
    writes year 51 as "51", which is not RFC 3339)."""
    return require_aware(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_local(value: str, zone: str) -> datetime | None:
    """An HTML datetime-local value read in `zone` (None if it is not a date and time)."""
    try:
        moment = datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone))
        require_aware(moment)  # a local time near year 1 or 9999 may have no UTC equivalent
    except ValueError:
        return None
    return moment


def parse_utc(text: str) -> datetime:
    """The inverse of `isoformat_utc`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
