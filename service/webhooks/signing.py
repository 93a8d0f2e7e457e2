"""Secrets and signatures as the Standard Webhooks specification defines them
(standardwebhooks.com): a secret is `whsec_` and the base64 of its key; a signature is
`v1,` and the base64 of HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, one per
valid secret, space-separated. Ten lines of hmac rather than the reference library, which
the tests use to verify every delivery as a receiver would."""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - the specification's prefix, not a secret
KEY_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def new_delivery_id() -> str:
    """A `webhook-id`: unique per delivery, the same on each of its retries."""
    return "msg_" + secrets.token_urlsafe(18)


def signature_header(delivery_id: str, timestamp: int, body: bytes, keys: list[str]) -> str:
    """`webhook-signature` for a delivery, signed with each secret in `keys`."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.digest(_key(secret), signed, hashlib.sha256)).decode()
        for secret in keys
    )


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))
