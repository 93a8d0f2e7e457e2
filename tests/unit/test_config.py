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
