"""The webhook worker's parts alone: where deliveries may go, when a failed one is retried,
and signatures as the Standard Webhooks reference library verifies them."""

import ipaddress
import socket
import time
from typing import Any

import pytest
from standardwebhooks import Webhook

from service.config import ConfigError, WebhookSettings
from service.webhooks import signing
from service.webhooks.destinations import AllowedHosts, NotAllowed, address_to_connect
from service.webhooks.schedule import next_retry

ALLOWED = AllowedHosts.parse("hooks.example.com, *.partner.test, 10.1.0.0/16, 192.0.2.7")


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/in",
        "https://HOOKS.example.com:8443/in?x=1",
        "http://a.partner.test/in",
        "http://deep.a.partner.test/in",
        "http://10.1.2.3/in",
        "http://192.0.2.7:8080/in",
    ],
)
def test_an_allowed_url_passes(url: str) -> None:
    ALLOWED.check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example.com/in",
        "https://partner.test/in",  # *.partner.test names its subdomains only
        "http://10.2.0.1/in",
        "http://169.254.169.254/latest",
        "http://[::ffff:169.254.169.254]/latest",
        "http://u:p@hooks.example.com/in",
        "http://hooks.example.com/in#frag",
        "file:///etc/passwd",
        "http:///in",
        "http://hooks.example.com:99999/in",
    ],
)
def test_a_url_outside_the_rules_is_refused(url: str) -> None:
    with pytest.raises(NotAllowed):
        ALLOWED.check_url(url)


def test_link_local_is_refused_even_when_listed() -> None:
    anything = AllowedHosts.parse("0.0.0.0/0,::/0")
    with pytest.raises(NotAllowed, match="link-local"):
        anything.check_url("http://169.254.169.254/")
    with pytest.raises(NotAllowed, match="link-local"):
        anything.check_url("http://[fe80::1]/")


def test_a_malformed_entry_is_named() -> None:
    with pytest.raises(ValueError, match="'bad host!'"):
        AllowedHosts.parse("ok.example.com,bad host!")


def resolving_to(*addresses: str) -> Any:
    async def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return resolve


async def test_every_address_a_name_resolves_to_must_be_allowed() -> None:
    public = await address_to_connect(
        ALLOWED, "hooks.example.com", 443, resolving_to("93.184.216.34")
    )
    assert public == ipaddress.ip_address("93.184.216.34")
    listed = await address_to_connect(ALLOWED, "a.partner.test", 80, resolving_to("10.1.9.9"))
    assert listed == ipaddress.ip_address("10.1.9.9")
    # A listed name that now resolves to a private, loopback or metadata address.
    for elsewhere in ("10.9.0.1", "127.0.0.1", "169.254.169.254"):
        with pytest.raises(NotAllowed):
            await address_to_connect(
                ALLOWED, "hooks.example.com", 443, resolving_to("93.184.216.34", elsewhere)
            )
    with pytest.raises(NotAllowed):  # a name no longer listed is not even resolved
        await address_to_connect(ALLOWED, "gone.example.com", 443, resolving_to("93.184.216.34"))


def test_retries_follow_the_schedule_with_up_to_a_fifth_more() -> None:
    schedule = (5.0, 300.0, 1800.0)
    for failures, step in ((1, 5.0), (2, 300.0), (3, 1800.0), (4, 1800.0), (9, 1800.0)):
        retry = next_retry(schedule, failures)
        assert step <= retry.delay <= step * 1.2
        assert retry.exhausted == (failures > 3)


def test_a_longer_retry_after_is_honoured_up_to_the_next_step() -> None:
    schedule = (5.0, 300.0, 1800.0)
    assert next_retry(schedule, 1, retry_after=60).delay == 60
    assert next_retry(schedule, 1, retry_after=3600).delay == 300
    assert next_retry(schedule, 1, retry_after=1).delay < 6.01  # shorter: the step's own
    # At the last step, the step (with its jitter) is the cap.
    assert 1800 <= next_retry(schedule, 3, retry_after=7200).delay <= 1800 * 1.2


def test_signatures_verify_with_the_reference_library_under_each_secret() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    body = b'{"type":"changes","data":{"items":[]}}'
    delivery_id = signing.new_delivery_id()
    timestamp = int(time.time())
    headers = {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(delivery_id, timestamp, body, [new, old]),
    }
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"type": "changes", "data": {"items": []}}
    with pytest.raises(Exception, match="signature"):
        Webhook(signing.new_secret()).verify(body, headers)


def test_webhook_settings_read_durations_and_refuse_a_lease_shorter_than_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE", "1s,2m,1.5h")
    monkeypatch.setenv("WEBHOOK_TIMEOUT", "4")
    settings = WebhookSettings.from_env()
    assert settings.retry_schedule == (1.0, 120.0, 5400.0)
    assert settings.timeout == 4.0
    assert settings.lease == 30.0
    assert settings.secret_overlap == 86400.0
    assert not settings.allowed_hosts
    monkeypatch.setenv("WEBHOOK_LEASE", "3s")
    with pytest.raises(ConfigError, match="WEBHOOK_LEASE"):
        WebhookSettings.from_env()
    monkeypatch.setenv("WEBHOOK_LEASE", "30s")
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE", "5s,soon")
    with pytest.raises(ConfigError, match="WEBHOOK_RETRY_SCHEDULE"):
        WebhookSettings.from_env()
