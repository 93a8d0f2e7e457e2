"""Settings, read once from environment variables (the only way to configure the service)."""

import os
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from service.webhooks.destinations import AllowedHosts

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _text(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def _number(name: str, default: float, *, minimum: float) -> float:
    raw = _text(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _integer(name: str, default: int, *, minimum: int) -> int:
    value = _number(name, default, minimum=minimum)
    if not value.is_integer():
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    return int(value)


_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(name: str, default: str) -> timedelta:
    """A duration such as `7d`, `12h`, `30m` or `90s`."""
    raw = _text(name, default)
    if (match := _DURATION.fullmatch(raw)) is None or int(match[1]) == 0:
        raise ConfigError(f"{name} must be a positive number of s, m, h or d, like 7d; got {raw!r}")
    return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])


_SECONDS = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")


def _seconds_of(name: str, raw: str) -> float:
    """`raw`, such as `10s`, `5m`, `1.5` or `2h`, in seconds (a bare number is seconds)."""
    match = _SECONDS.fullmatch(raw.strip())
    if match is None or float(match[1]) == 0:
        raise ConfigError(f"{name} must be a positive duration such as 10s, 5m or 2h; got {raw!r}")
    return float(match[1]) * _UNIT_SECONDS[match[2] or "s"]


def _flag(name: str, default: bool) -> bool:
    raw = _text(name, str(default)).lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


_SCOPES = {
    "read": frozenset({"read"}),
    "read+write": frozenset({"read", "write"}),
    "read+write+admin": frozenset({"read", "write", "admin"}),
}


@dataclass(frozen=True)
class ApiKey:
    name: str
    secret: str
    scopes: frozenset[str]


def parse_api_keys(raw: str) -> tuple[ApiKey, ...]:
    """Parse API_KEYS; a malformed entry is named by position and name, never by its key."""
    keys: list[ApiKey] = []
    for position, entry in enumerate(filter(None, (e.strip() for e in raw.split(","))), 1):
        name, _, rest = entry.partition(":")
        secret, _, scopes = rest.rpartition(":")
        where = f"API_KEYS entry {position} ({name or 'no name'})"
        if not name or not secret:
            raise ConfigError(f"{where} must look like name:key:scopes")
        if scopes not in _SCOPES:
            raise ConfigError(
                f"{where} has scopes {scopes!r}; use read, read+write or read+write+admin"
            )
        if any(k.name == name for k in keys):
            raise ConfigError(f"{where} repeats a name")
        keys.append(ApiKey(name=name, secret=secret, scopes=_SCOPES[scopes]))
    return tuple(keys)


# Asymmetric signatures only: `none` and HMAC (HS*) are refused whatever a token says, so a
# public key can never be used as a shared secret (algorithm confusion).
TOKEN_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


@dataclass(frozen=True, kw_only=True)
class OAuthSettings:
    """OAuth 2.0 access tokens (API.md v1.2 "Caller identity"); None in Settings when off."""

    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks_file: Path | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    leeway: float = 30.0
    read_scope: str = "enrollment.read"
    write_scope: str = "enrollment.write"
    admin_scope: str = "enrollment.admin"
    jwks_refresh: float = 300.0

    @classmethod
    def from_env(cls) -> "OAuthSettings | None":
        names = ("OAUTH_ISSUER", "OAUTH_AUDIENCE", "OAUTH_JWKS_URL", "OAUTH_JWKS_FILE")
        issuer, audience, jwks_url, jwks_file = (_text(name, "") for name in names)
        if not any((issuer, audience, jwks_url, jwks_file)):
            return None
        if not issuer or not audience or bool(jwks_url) == bool(jwks_file):
            raise ConfigError(
                "tokens need OAUTH_ISSUER, OAUTH_AUDIENCE and one of OAUTH_JWKS_URL or"
                " OAUTH_JWKS_FILE"
            )
        if jwks_url and not jwks_url.startswith(("https://", "http://")):
            raise ConfigError(f"OAUTH_JWKS_URL must be an http(s) URL, got {jwks_url!r}")
        return cls(
            issuer=issuer,
            audience=audience,
            jwks_url=jwks_url or None,
            jwks_file=Path(jwks_file) if jwks_file else None,
            algorithms=_algorithms(_text("OAUTH_ALGORITHMS", ",".join(cls.algorithms))),
            leeway=_number("OAUTH_LEEWAY", cls.leeway, minimum=0),
            read_scope=_text("OAUTH_READ_SCOPE", cls.read_scope),
            write_scope=_text("OAUTH_WRITE_SCOPE", cls.write_scope),
            admin_scope=_text("OAUTH_ADMIN_SCOPE", cls.admin_scope),
            jwks_refresh=_number("OAUTH_JWKS_REFRESH", cls.jwks_refresh, minimum=1),
        )


def _algorithms(raw: str) -> tuple[str, ...]:
    algorithms = tuple(filter(None, (a.strip() for a in raw.split(","))))
    if refused := [a for a in algorithms if a not in TOKEN_ALGORITHMS]:
        raise ConfigError(
            f"OAUTH_ALGORITHMS may name only {', '.join(sorted(TOKEN_ALGORITHMS))};"
            f" {', '.join(refused)} refused"
        )
    if not algorithms:
        raise ConfigError("OAUTH_ALGORITHMS names no algorithm")
    return algorithms


@dataclass(frozen=True, kw_only=True)
class WebhookSettings:
    """Webhook deliveries (API.md v1.3 "Webhooks"); durations in seconds."""

    allowed_hosts: AllowedHosts = field(default_factory=AllowedHosts)
    timeout: float = 10.0
    retry_schedule: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    batch_max: int = 100
    lease: float = 30.0
    secret_overlap: float = 86400.0

    @classmethod
    def from_env(cls) -> "WebhookSettings":
        try:
            allowed_hosts = AllowedHosts.parse(os.environ.get("WEBHOOK_ALLOWED_HOSTS", ""))
        except ValueError as error:
            raise ConfigError(str(error)) from None
        raw_schedule = _text("WEBHOOK_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,10h")
        settings = cls(
            allowed_hosts=allowed_hosts,
            timeout=_seconds_of("WEBHOOK_TIMEOUT", _text("WEBHOOK_TIMEOUT", "10s")),
            retry_schedule=tuple(
                _seconds_of("WEBHOOK_RETRY_SCHEDULE", step) for step in raw_schedule.split(",")
            ),
            batch_max=_integer("WEBHOOK_BATCH_MAX", cls.batch_max, minimum=1),
            lease=_seconds_of("WEBHOOK_LEASE", _text("WEBHOOK_LEASE", "30s")),
            secret_overlap=_seconds_of(
                "WEBHOOK_SECRET_OVERLAP", _text("WEBHOOK_SECRET_OVERLAP", "24h")
            ),
        )
        if settings.batch_max > MAX_WEBHOOK_BATCH:
            raise ConfigError(f"WEBHOOK_BATCH_MAX must be at most {MAX_WEBHOOK_BATCH}")
        # A lease must outlast the attempt its holder makes under it.
        if settings.lease <= settings.timeout:
            raise ConfigError("WEBHOOK_LEASE must be longer than WEBHOOK_TIMEOUT")
        return settings


MAX_WEBHOOK_BATCH = 1000  # as many as a page of GET /changes


@dataclass(frozen=True)
class OneRosterSchool:
    """The one school (a OneRoster `org` of type `school`) every record belongs to."""

    sourced_id: str = "school"
    name: str = "School"
    identifier: str = "school"

    @classmethod
    def parse(cls, raw: str) -> "OneRosterSchool":
        parts = raw.split("|")
        if len(parts) != 3 or not all(part.strip() for part in parts):
            raise ConfigError(f"ONEROSTER_SCHOOL must be sourcedId|name|identifier, got {raw!r}")
        return cls(*(part.strip() for part in parts))


@dataclass(frozen=True)
class OneRosterTerm:
    """The one term (a OneRoster `academicSession` of type `term`) every class is held in;
    the end date is exclusive, as the binding has it."""

    sourced_id: str
    title: str
    start_date: date
    end_date: date
    school_year: str

    @classmethod
    def parse(cls, raw: str) -> "OneRosterTerm":
        parts = [part.strip() for part in raw.split("|")]
        usage = f"ONEROSTER_TERM must be sourcedId|title|startDate|endDate|schoolYear, got {raw!r}"
        if len(parts) != 5 or not all(parts):
            raise ConfigError(usage)
        try:
            start, end = date.fromisoformat(parts[2]), date.fromisoformat(parts[3])
        except ValueError:
            raise ConfigError(usage + " (dates as YYYY-MM-DD)") from None
        if end <= start or not (parts[4].isdigit() and len(parts[4]) == 4):
            raise ConfigError(usage + " (the end after the start, the year as YYYY)")
        return cls(parts[0], parts[1], start, end, parts[4])

    @classmethod
    def this_year(cls) -> "OneRosterTerm":
        """The default: the calendar year the service started in."""
        year = date.today().year
        return cls(f"term-{year}", str(year), date(year, 1, 1), date(year + 1, 1, 1), str(year))


@dataclass(frozen=True, kw_only=True)
class OneRosterSettings:
    """The OneRoster 1.2 read service (API.md v1.3): its school and term."""

    school: OneRosterSchool = field(default_factory=OneRosterSchool)
    term: OneRosterTerm = field(default_factory=OneRosterTerm.this_year)

    @classmethod
    def from_env(cls) -> "OneRosterSettings":
        school, term = _text("ONEROSTER_SCHOOL", ""), _text("ONEROSTER_TERM", "")
        return cls(
            school=OneRosterSchool.parse(school) if school else OneRosterSchool(),
            term=OneRosterTerm.parse(term) if term else OneRosterTerm.this_year(),
        )


def span_export_from_env() -> bool:
    """Whether the standard OpenTelemetry variables turn span export on (API.md v1.2
    "Tracing"): OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint set; never with
    OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. OTLP over HTTP (protobuf) only."""
    if _text("OTEL_SDK_DISABLED", "false").lower() == "true":
        return False
    exporter = _text("OTEL_TRACES_EXPORTER", "").lower()
    if exporter not in ("", "otlp", "none"):
        raise ConfigError(f"OTEL_TRACES_EXPORTER may be otlp or none, got {exporter!r}")
    endpoint = _text("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "") or _text(
        "OTEL_EXPORTER_OTLP_ENDPOINT", ""
    )
    on = exporter == "otlp" or (exporter == "" and bool(endpoint))
    protocol = _text("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "") or _text(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if on and protocol != "http/protobuf":
        raise ConfigError(f"spans are exported as OTLP http/protobuf only, not {protocol!r}")
    return on


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _text(name, default).lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the service reads from its environment; see README.md for each variable."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    database_url: str | None = None
    data_dir: Path = Path(".data")
    migrate_on_start: bool = True
    shutdown_timeout: float = 10.0
    db_timeout: float = 5.0
    db_lock_timeout: float = 2.0
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_statement_cache_size: int = 100  # asyncpg's default
    log_level: str = "info"
    log_format: str = "json"
    api_keys: tuple[ApiKey, ...] = ()
    oauth: OAuthSettings | None = None
    changes_retention: timedelta = timedelta(days=7)
    replica_urls: tuple[str, ...] = ()
    replica_max_lag: float = 1.0
    span_export: bool = False
    webhooks: WebhookSettings = WebhookSettings()
    oneroster: OneRosterSettings = field(default_factory=OneRosterSettings)

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            host=_text("HOST", cls.host),
            port=_integer("PORT", cls.port, minimum=0),
            workers=_integer("WORKERS", cls.workers, minimum=1),
            database_url=os.environ.get("DATABASE_URL") or None,
            data_dir=Path(_text("DATA_DIR", str(cls.data_dir))),
            migrate_on_start=_flag("MIGRATE_ON_START", cls.migrate_on_start),
            shutdown_timeout=_number("SHUTDOWN_TIMEOUT", cls.shutdown_timeout, minimum=0),
            db_timeout=_number("DB_TIMEOUT", cls.db_timeout, minimum=0.001),
            db_lock_timeout=_number("DB_LOCK_TIMEOUT", cls.db_lock_timeout, minimum=0.001),
            db_pool_min=_integer("DB_POOL_MIN", cls.db_pool_min, minimum=0),
            db_pool_max=_integer("DB_POOL_MAX", cls.db_pool_max, minimum=1),
            db_statement_cache_size=_integer(
                "DB_STATEMENT_CACHE_SIZE", cls.db_statement_cache_size, minimum=0
            ),
            log_level=_choice("LOG_LEVEL", cls.log_level, LOG_LEVELS),
            log_format=_choice("LOG_FORMAT", cls.log_format, ("json", "text")),
            api_keys=parse_api_keys(os.environ.get("API_KEYS", "")),
            oauth=OAuthSettings.from_env(),
            changes_retention=_duration("CHANGES_RETENTION", "7d"),
            replica_urls=tuple(
                url.strip()
                for url in os.environ.get("DATABASE_REPLICA_URLS", "").split(",")
                if url.strip()
            ),
            replica_max_lag=_number("REPLICA_MAX_LAG", cls.replica_max_lag, minimum=0),
            span_export=span_export_from_env(),
            webhooks=WebhookSettings.from_env(),
            oneroster=OneRosterSettings.from_env(),
        )
