"""Settings read from the environment: durations."""

from datetime import timedelta

import pytest

from service.config import ConfigError, Settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", timedelta(days=7)),
        ("7d", timedelta(days=7)),
        ("36h", timedelta(hours=36)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_changes_retention_takes_a_number_and_a_unit(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: timedelta
) -> None:
    monkeypatch.setenv("CHANGES_RETENTION", raw)
    assert Settings.from_env().changes_retention == expected


@pytest.mark.parametrize("raw", ["7", "0d", "-1d", "1w", "1.5d", "d"])
def test_changes_retention_refuses_what_it_cannot_read(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("CHANGES_RETENTION", raw)
    with pytest.raises(ConfigError, match="CHANGES_RETENTION"):
        Settings.from_env()


OAUTH_ON = {
    "OAUTH_ISSUER": "https://issuer.test/",
    "OAUTH_AUDIENCE": "enrollment-service",
    "OAUTH_JWKS_URL": "https://issuer.test/jwks.json",
}


def test_tokens_are_off_unless_configured_and_take_the_contracts_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings.from_env().oauth is None
    for name, value in OAUTH_ON.items():
        monkeypatch.setenv(name, value)
    oauth = Settings.from_env().oauth
    assert oauth is not None
    assert (oauth.algorithms, oauth.leeway, oauth.jwks_refresh) == (("RS256", "ES256"), 30, 300)
    assert (oauth.read_scope, oauth.write_scope) == ("enrollment.read", "enrollment.write")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"OAUTH_AUDIENCE": ""}, "OAUTH_AUDIENCE"),
        ({"OAUTH_JWKS_URL": ""}, "one of OAUTH_JWKS_URL or OAUTH_JWKS_FILE"),
        ({"OAUTH_JWKS_FILE": "/etc/jwks.json"}, "one of OAUTH_JWKS_URL or OAUTH_JWKS_FILE"),
        ({"OAUTH_JWKS_URL": "file:///etc/jwks.json"}, "http(s) URL"),
        ({"OAUTH_ALGORITHMS": "RS256,HS256"}, "HS256 refused"),
        ({"OAUTH_ALGORITHMS": "none"}, "none refused"),
        ({"OAUTH_ALGORITHMS": " , "}, "names no algorithm"),
    ],
)
def test_token_settings_it_cannot_use_stop_the_service(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, str], message: str
) -> None:
    for name, value in {**OAUTH_ON, **changes}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env()
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_SDK_DISABLED": "no", "OTEL_TRACES_EXPORTER": "otlp"}, True),
    ],
)
def test_span_export_follows_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], on: bool
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings.from_env().span_export is on


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER may be otlp or none"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "not 'grpc'"),
    ],
)
def test_span_export_it_cannot_do_stops_the_service(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env()
    assert message in str(caught.value)
