"""Settings from config/*.toml with EDMS_* environment overrides."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from edms.users.passwords import PasswordPolicy
from edms.users.roles import ROLES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
DEVELOPMENT_SECRET = "insecure-development-key"
DEVELOPMENT_PKI_PASSPHRASE = "insecure-development-pki-passphrase"


class ConfigError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    environment: str
    secret_key: str
    data_dir: Path
    database_url: str
    organisation: str
    part11_certification_reference: str
    idle_minutes: float
    api_token_minutes: int
    login_rate_limit: str
    secure_cookies: bool
    default_language: str
    audit_checkpoint_every: int = 1000
    pki_passphrase: str = ""
    tsa_url: str = ""
    tsa_ca_file: str = ""
    totp_roles: tuple[str, ...] = ()
    password: PasswordPolicy = field(default_factory=PasswordPolicy)

    @property
    def forms_dir(self) -> Path:
        return PROJECT_ROOT / "forms"


def _coerce(value: str, like: Any) -> Any:
    if isinstance(like, list):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(like, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(like, int):
        return int(value)
    if isinstance(like, float):
        return float(value)
    return value


def load_settings(environment: str | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Merge default.toml, <environment>.toml, EDMS_* variables, then explicit overrides."""
    environment = environment or os.environ.get("EDMS_ENV", "development")
    raw: dict[str, Any] = tomllib.loads((CONFIG_DIR / "default.toml").read_text("utf-8"))
    env_file = CONFIG_DIR / f"{environment}.toml"
    if environment != "development":
        if not env_file.exists():
            raise ConfigError(f"unknown environment '{environment}': no {env_file}")
        layered = tomllib.loads(env_file.read_text("utf-8"))
        raw["password"] = {**raw.get("password", {}), **layered.pop("password", {})}
        raw.update(layered)
    password = raw.pop("password", {})
    for key, value in list(raw.items()):
        env_value = os.environ.get(f"EDMS_{key.upper()}")
        if env_value is not None:
            raw[key] = _coerce(env_value, value)
    for key, value in list(password.items()):
        env_value = os.environ.get(f"EDMS_PASSWORD_{key.upper()}")
        if env_value is not None:
            password[key] = _coerce(env_value, value)
    raw.update(overrides or {})
    password.update(raw.pop("password_overrides", {}))
    known = {f.name for f in fields(Settings)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown configuration key(s): {', '.join(sorted(unknown))}")
    data_dir = Path(raw["data_dir"])
    if not data_dir.is_absolute():
        data_dir = PROJECT_ROOT / data_dir
    raw["data_dir"] = data_dir
    if not raw["database_url"]:
        raw["database_url"] = f"sqlite:///{data_dir / 'edms.sqlite3'}"
    raw["totp_roles"] = tuple(raw.get("totp_roles", ()))
    if set(raw["totp_roles"]) - set(ROLES):
        raise ConfigError(f"totp_roles: unknown role(s) {', '.join(sorted(set(raw['totp_roles']) - set(ROLES)))}")
    settings = Settings(password=PasswordPolicy(**password), **raw)
    if settings.environment == "production" and settings.secret_key in {DEVELOPMENT_SECRET, ""}:
        raise ConfigError("refusing to start in production with the development secret key: set EDMS_SECRET_KEY")
    if settings.environment == "production" and len(settings.secret_key) < 32:
        raise ConfigError("the production secret key must have at least 32 characters")
    if settings.environment == "production" and settings.pki_passphrase in {DEVELOPMENT_PKI_PASSPHRASE, ""}:
        raise ConfigError("refusing to start in production without a PKI passphrase of its own: set EDMS_PKI_PASSPHRASE")
    return settings
