"""Settings from config/*.toml (or a deployment's own, in EDMS_CONFIG_DIR) with EDMS_* environment overrides."""
from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from edms.resources import CONFIG_DIR, FORMS_DIR

DEVELOPMENT_SECRET = "insecure-development-key"
DEVELOPMENT_PKI_PASSPHRASE = "insecure-development-pki-passphrase"
# Tables of the configuration files, each overridden by EDMS_<TABLE>_<KEY> variables (EDMS_SMTP_HOST).
SECTIONS = ("password", "smtp")


class ConfigError(RuntimeError):
    pass


@dataclass(frozen=True)
class PasswordPolicy:
    """The `[password]` section: 21 CFR 11.300(a)-(b) and the cost of the Argon2id hash."""

    min_length: int = 12
    history: int = 5
    max_age_days: int = 90
    lockout_threshold: int = 5
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 2


# How the connection to the relay is protected: STARTTLS on the submission port, implicit TLS
# (SMTPS, usually port 465), or none (a relay on the same host or network only).
SECURITY_MODES = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class SmtpSettings:
    """The `[smtp]` section of the configuration; an empty host means e-mail is not configured."""

    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = ""
    sender: str = "edms@localhost"
    # PEM file of the CA that issued the relay's certificate (empty: the system's trust store).
    ca_file: str = ""
    timeout_seconds: float = 10.0
    # A failed notification is tried again by later deliveries until it has had this many attempts.
    max_attempts: int = 5

    @property
    def configured(self) -> bool:
        return bool(self.host.strip())

    def problems(self) -> list[str]:
        """What is wrong with these settings, in the words of the configuration file."""
        found = []
        if self.security not in SECURITY_MODES:
            found.append(f"smtp.security must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}")
        if self.configured and not self.sender.strip():
            found.append("smtp.sender: the From address is required when smtp.host is set")
        if self.username and self.security == "none":
            found.append("smtp.username is set but smtp.security is none: the password would cross the network in clear")
        if self.max_attempts < 1:
            found.append("smtp.max_attempts must be at least 1")
        return found


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
    # The witness of the audit log's signed tree heads: empty = <data_dir>/witness/tree-heads.jsonl.
    witness_file: str = ""
    pki_passphrase: str = ""
    # The organisation's keys in an HSM (edms.pki.hsm): the PKCS#11 module (.so), the token's label, and the
    # user PIN, from EDMS_PKCS11_PIN only (refused in a configuration file outside development and testing).
    pkcs11_module: str = ""
    pkcs11_token_label: str = ""
    pkcs11_pin: str = field(default="", repr=False)
    tsa_url: str = ""
    tsa_ca_file: str = ""
    totp_roles: tuple[str, ...] = ()
    # Failed sign-ins from one client address, all user names together (login_rate_limit counts per user name).
    login_client_rate_limit: str = "100 per minute"
    # Where the limiter counts (limits storage URI): memory:// per process; a shared store for several nodes.
    rate_limit_storage: str = "memory://"
    # Reverse proxies (load balancers) in front of every node whose X-Forwarded-For / -Proto are trusted: 0 =
    # none, the peer address is the client's. Only the last `trusted_proxies` hops are believed, never more.
    trusted_proxies: int = 0
    totp_key: str = ""  # seals TOTP secrets in the database; empty: derived from secret_key
    # Where stored files live: auto (database with PostgreSQL, filesystem with SQLite), filesystem, database, s3.
    blob_store: str = "auto"
    s3_endpoint_url: str = ""  # empty: AWS itself
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""  # empty (both): boto3's own credential chain
    s3_secret_access_key: str = ""
    s3_prefix: str = "blobs/"
    # Object Lock of a file whose record's retention is not known: 0 = the longest any regime declares.
    s3_retention_years: int = 0
    # Who runs the jobs (exports, outbox, escalations, archive time-stamps): "auto" = a background thread of
    # the server with SQLite, `edms worker` processes with PostgreSQL; "thread"; "worker"; "manual" (tests).
    job_runner: str = "auto"
    job_lease_seconds: int = 60  # a job whose worker sent no heartbeat for this long is claimed again
    job_max_attempts: int = 3
    job_poll_seconds: float = 2.0
    # The periodic jobs the worker queues (every this many seconds; 0: never, e.g. left to cron).
    job_outbox_every_seconds: int = 60
    job_escalate_every_seconds: int = 900
    job_archive_timestamps_every_seconds: int = 86400
    forms_dir: Path = FORMS_DIR
    password: PasswordPolicy = field(default_factory=PasswordPolicy)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)


    @property
    def witness_path(self) -> Path:
        """Where the signed tree heads are appended: a volume the database administrator does not control."""
        return Path(self.witness_file).absolute() if self.witness_file else self.data_dir / "witness" / "tree-heads.jsonl"


TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
# Settings that count something (minutes, events): a value below 1 would disable a control silently.
POSITIVE_SETTINGS = ("idle_minutes", "api_token_minutes", "audit_checkpoint_every", "job_lease_seconds",
                     "job_max_attempts")
JOB_RUNNERS = ("auto", "thread", "worker", "manual")
RATE_LIMIT_SETTINGS = ("login_rate_limit", "login_client_rate_limit")
BLOB_STORES = ("auto", "filesystem", "database", "s3")


def _coerce(name: str, value: str, like: Any) -> Any:
    """The variable's text as the type of the value it overrides; a bad value is a ConfigError naming it."""
    if isinstance(like, list):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(like, bool):
        word = value.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ConfigError(f"{name}={value!r}: expected one of {', '.join(sorted(TRUE_WORDS | FALSE_WORDS))}")
        return word in TRUE_WORDS
    try:
        if isinstance(like, int):
            return int(value)
        if isinstance(like, float):
            return float(value)
    except ValueError:
        kind = "a whole number" if isinstance(like, int) else "a number"
        raise ConfigError(f"{name}={value!r}: expected {kind}") from None
    return value


def _apply_environment(values: dict[str, Any], prefix: str) -> None:
    for key, value in list(values.items()):
        name = f"{prefix}{key.upper()}"
        env_value = os.environ.get(name)
        if env_value is not None:
            values[key] = _coerce(name, env_value, value)


def _check_positive(raw: dict[str, Any]) -> None:
    for key in POSITIVE_SETTINGS:
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value < 10**9:
            raise ConfigError(f"{key} (EDMS_{key.upper()}) must be a number from 1 up, not {value!r}")


def _check_rate_limits(raw: dict[str, Any]) -> None:
    """A limit the limiter cannot read would fail every sign-in: refused at start-up instead."""
    from limits import parse
    from limits.storage import storage_from_string

    for key in (key for key in RATE_LIMIT_SETTINGS if key in raw):  # absent: the Settings default
        try:
            parse(str(raw[key]))
        except ValueError:
            raise ConfigError(f"{key} (EDMS_{key.upper()}) must read like \"10 per minute\", "
                              f"not {raw.get(key)!r}") from None
    uri = str(raw.get("rate_limit_storage", "memory://"))
    if uri.startswith("memory://"):
        return
    try:
        storage_from_string(uri)
    except Exception as exc:  # noqa: BLE001 (an unknown scheme or a missing driver: said at start-up)
        raise ConfigError(f"rate_limit_storage (EDMS_RATE_LIMIT_STORAGE) {uri!r} cannot be used: {exc}") from None


def _refuse_pin_in_file(environment: str, raw: dict[str, Any]) -> None:
    """The HSM's PIN is read from the environment (EDMS_PKCS11_PIN), never from a file anyone may copy."""
    if raw.get("pkcs11_pin") and environment not in LOCAL_ENVIRONMENTS:
        raise ConfigError(f"pkcs11_pin is set in a configuration file of the {environment} environment: remove it "
                          "and give the PIN in EDMS_PKCS11_PIN")
def _check_trusted_proxies(raw: dict[str, Any]) -> None:
    hops = raw.get("trusted_proxies", 0)
    if isinstance(hops, bool) or not isinstance(hops, int) or not 0 <= hops <= 5:
        raise ConfigError(f"trusted_proxies (EDMS_TRUSTED_PROXIES) must be a whole number from 0 to 5, not {hops!r}")


def _check_blob_store(raw: dict[str, Any]) -> None:
    kind = raw.get("blob_store", "auto")
    if kind not in BLOB_STORES:
        raise ConfigError(f"blob_store (EDMS_BLOB_STORE) must be one of {', '.join(BLOB_STORES)}, not {kind!r}")
    if kind == "s3" and not str(raw.get("s3_bucket", "")).strip():
        raise ConfigError("blob_store = \"s3\" needs s3_bucket (EDMS_S3_BUCKET)")
    years = raw.get("s3_retention_years", 0)
    if isinstance(years, bool) or not isinstance(years, int) or not 0 <= years <= 100:
        raise ConfigError(f"s3_retention_years (EDMS_S3_RETENTION_YEARS) must be a whole number from 0 to 100, not {years!r}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _section(kind, name: str, values: dict[str, Any]):
    unknown = set(values) - {f.name for f in fields(kind)}
    if unknown:
        raise ConfigError(f"unknown configuration key(s) in [{name}]: {', '.join(sorted(unknown))}")
    try:
        return kind(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{name}]: {exc}") from None


def _config_file(name: str) -> Path:
    """A deployment's own file of that name when EDMS_CONFIG_DIR has one, else the one edms ships."""
    own_dir = os.environ.get("EDMS_CONFIG_DIR")
    if own_dir and (Path(own_dir) / name).exists():
        return Path(own_dir) / name
    return CONFIG_DIR / name


def load_settings(environment: str | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Merge default.toml, <environment>.toml, EDMS_* variables, then explicit overrides."""
    environment = environment or os.environ.get("EDMS_ENV", "development")
    raw: dict[str, Any] = _read_toml(_config_file("default.toml"))
    env_file = _config_file(f"{environment}.toml")
    if environment != "development":
        if not env_file.exists():
            raise ConfigError(f"unknown environment '{environment}': no {env_file}")
        layered = _read_toml(env_file)
        for name in SECTIONS:
            raw[name] = {**raw.get(name, {}), **layered.pop(name, {})}
        raw.update(layered)
    _refuse_pin_in_file(environment, raw)
    sections = {name: raw.pop(name, {}) for name in SECTIONS}
    _apply_environment(raw, "EDMS_")
    for name, values in sections.items():
        _apply_environment(values, f"EDMS_{name.upper()}_")
    raw.update(overrides or {})
    for name, values in sections.items():
        values.update(raw.pop(f"{name}_overrides", {}))
    known = {f.name for f in fields(Settings)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown configuration key(s): {', '.join(sorted(unknown))}")
    _check_positive(raw)
    _check_rate_limits(raw)
    _check_blob_store(raw)
    _check_trusted_proxies(raw)
    if not 0 < float(raw.get("job_poll_seconds", 2.0)) <= 3600:
        raise ConfigError(f"job_poll_seconds (EDMS_JOB_POLL_SECONDS) must be above 0 and at most 3600, "
                          f"not {raw['job_poll_seconds']!r}")
    if raw.get("job_runner", "auto") not in JOB_RUNNERS:
        raise ConfigError(f"job_runner (EDMS_JOB_RUNNER) must be one of {', '.join(JOB_RUNNERS)}, not {raw['job_runner']!r}")
    # Relative to the directory edms is started in: an installed edms has no project folder of its own.
    data_dir = Path(raw["data_dir"]).absolute()
    raw["data_dir"] = data_dir
    raw["forms_dir"] = Path(raw["forms_dir"]).absolute() if raw.get("forms_dir") else FORMS_DIR
    if not raw["database_url"]:
        raw["database_url"] = f"sqlite:///{data_dir / 'edms.sqlite3'}"
    # The roles named here are checked against the users domain's roles when the services are built.
    raw["totp_roles"] = tuple(raw.get("totp_roles", ()))
    smtp = _section(SmtpSettings, "smtp", sections["smtp"])
    if smtp.problems():
        raise ConfigError("; ".join(smtp.problems()))
    settings = Settings(password=_section(PasswordPolicy, "password", sections["password"]), smtp=smtp, **raw)
    refuse_public_secrets(settings)
    return settings


# Environments in which the secrets shipped with edms (public, in its config files) may be used.
LOCAL_ENVIRONMENTS = ("development", "testing")


def _shipped_secrets(key: str) -> set[str]:
    """The values of `key` in the configuration files that come with edms: public, so never a secret."""
    return {"", *(str(_read_toml(CONFIG_DIR / name).get(key, "")) for name in ("default.toml", "testing.toml")
                  if (CONFIG_DIR / name).exists())} | {DEVELOPMENT_SECRET, DEVELOPMENT_PKI_PASSPHRASE}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def refuse_public_secrets(settings: Settings, *, host: str | None = None) -> None:
    """The secret key and PKI passphrase shipped with edms are refused outside development and testing, and
    whenever the server listens on anything but the loopback interface (`host`)."""
    if settings.environment in LOCAL_ENVIRONMENTS and (host is None or is_loopback(host)):
        return
    where = (f"while listening on {host} (not the loopback interface)" if host is not None and not is_loopback(host)
             else f"in the {settings.environment} environment")
    if settings.secret_key in _shipped_secrets("secret_key"):
        raise ConfigError(f"refusing to start {where} with the secret key shipped with edms: set EDMS_SECRET_KEY")
    if len(settings.secret_key) < 32:
        raise ConfigError(f"refusing to start {where}: the secret key must have at least 32 characters")
    if not settings.pkcs11_module and settings.pki_passphrase in _shipped_secrets("pki_passphrase"):
        raise ConfigError(f"refusing to start {where} with the PKI passphrase shipped with edms: set EDMS_PKI_PASSPHRASE")
