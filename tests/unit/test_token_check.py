"""TokenCheck against key sets built here (issue 41's token items): which keys it takes from a
key set, which algorithm and type it accepts, when it forgets the tokens it verified, and how
it fetches the set. No HTTP app: tests/api/test_tokens.py drives the same over requests."""

import json
import tempfile
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from service.config import TOKEN_ALGORITHMS, OAuthSettings
from service.plumbing import tokens
from service.plumbing.tokens import ACTOR_LENGTH, TokenCheck, TokenRefused, bounded_actor
from tests.support.http_server import serving
from tests.support.issuer import AUDIENCE, ISSUER, SigningKey, mint

SETTINGS = OAuthSettings(
    issuer=ISSUER,
    audience=AUDIENCE,
    jwks_url="http://127.0.0.1:9/unused",
    algorithms=tuple(sorted(TOKEN_ALGORITHMS)),
)


@pytest.fixture(scope="module")
def rsa_private() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_for(algorithm: str, rsa_private: rsa.RSAPrivateKey) -> Any:
    if algorithm.startswith(("RS", "PS")):
        return rsa_private
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
    return ec.generate_private_key(curve[algorithm])


def key_set(*keys: SigningKey, with_alg: bool = True) -> dict[str, Any]:
    jwks = [key.jwk() for key in keys]
    if not with_alg:
        jwks = [{name: value for name, value in jwk.items() if name != "alg"} for jwk in jwks]
    return {"keys": jwks}


def load(check: TokenCheck, jwks: dict[str, Any]) -> None:
    """Give `check` a key set as keep_keys_fresh does: fetched (from a file), then used."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "jwks.json"
        path.write_text(json.dumps(jwks))
        check.use(tokens.fetch_key_set(replace(check.settings, jwks_url=None, jwks_file=path)))


def checking(*keys: SigningKey, with_alg: bool = True, **settings: Any) -> TokenCheck:
    check = TokenCheck(replace(SETTINGS, **settings))
    load(check, key_set(*keys, with_alg=with_alg))
    return check


@pytest.mark.parametrize("with_alg", [True, False], ids=["key with alg", "key without alg"])
@pytest.mark.parametrize("algorithm", sorted(TOKEN_ALGORITHMS))
def test_every_advertised_algorithm_verifies_whether_or_not_the_key_names_it(
    algorithm: str, with_alg: bool, rsa_private: rsa.RSAPrivateKey
) -> None:
    key = SigningKey("k1", algorithm, private_key_for(algorithm, rsa_private))
    check = checking(key, with_alg=with_alg)
    assert check.caller(mint(key)).actor == "oauth:registrar"


def test_a_key_that_names_its_alg_verifies_no_other(rsa_private: rsa.RSAPrivateKey) -> None:
    check = checking(SigningKey("k1", "RS256", rsa_private))
    with pytest.raises(TokenRefused, match="alg"):
        check.caller(mint(SigningKey("k1", "PS256", rsa_private)))


def test_an_algorithm_left_out_of_oauth_algorithms_is_refused_for_a_key_without_alg(
    rsa_private: rsa.RSAPrivateKey,
) -> None:
    check = checking(SigningKey("k1", "RS256", rsa_private), with_alg=False, algorithms=("RS256",))
    with pytest.raises(TokenRefused, match="alg"):
        check.caller(mint(SigningKey("k1", "RS512", rsa_private)))


def test_a_token_verified_before_its_key_was_replaced_under_the_same_kid_stops_working(
    rsa_private: rsa.RSAPrivateKey,
) -> None:
    old = SigningKey("k1", "RS256", rsa_private)
    check = checking(old)
    token = mint(old, exp=int(time.time()) + 31 * 365 * 86400)
    assert check.caller(token).actor == "oauth:registrar"
    replacement = SigningKey("k1", "RS256", rsa.generate_private_key(65537, 2048))
    load(check, key_set(replacement))
    with pytest.raises(TokenRefused):
        check.caller(token)
    assert check.caller(mint(replacement)).actor == "oauth:registrar"


def test_the_same_key_set_fetched_again_keeps_the_tokens_verified(
    rsa_private: rsa.RSAPrivateKey,
) -> None:
    key = SigningKey("k1", "RS256", rsa_private)
    check = checking(key)
    token = mint(key)
    check.caller(token)
    check.keys = {}  # were the token verified again, no key would be found
    load(check, key_set(key))
    assert check.caller(token).actor == "oauth:registrar"


def test_an_rsa_key_under_2048_bits_is_refused_at_load_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    weak = SigningKey("weak-1", "RS256", rsa.generate_private_key(65537, 1024))  # noqa: S505
    with caplog.at_level("WARNING", logger="service.auth"):
        check = checking(weak)
    assert check.keys == {}
    refused = [r for r in caplog.records if r.getMessage() == "auth.key_refused"]
    assert [getattr(r, "kid", None) for r in refused] == ["weak-1"]
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning):  # the issuer signs anyway
        token = mint(weak)
    with pytest.raises(TokenRefused):
        check.caller(token)


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "at+jwt", "application/at+jwt"])
def test_an_access_token_type_or_none_is_accepted(
    typ: str | None, rsa_private: rsa.RSAPrivateKey
) -> None:
    key = SigningKey("k1", "RS256", rsa_private)
    token = mint(key, headers={"typ": typ})  # PyJWT leaves out a typ of None
    assert ("typ" in jwt.get_unverified_header(token)) == (typ is not None)
    assert checking(key).caller(token).actor == "oauth:registrar"


@pytest.mark.parametrize("typ", ["logout+jwt", "secevent+jwt", "id_token+jwt", "JOSE", 7])
def test_a_token_of_another_type_is_refused(typ: object, rsa_private: rsa.RSAPrivateKey) -> None:
    key = SigningKey("k1", "RS256", rsa_private)
    with pytest.raises(TokenRefused, match="typ"):
        checking(key).caller(mint(key, headers={"typ": typ}))


def test_two_long_client_ids_alike_in_their_first_128_characters_stay_two_actors(
    rsa_private: rsa.RSAPrivateKey,
) -> None:
    key = SigningKey("k1", "RS256", rsa_private)
    check = checking(key)
    first = check.caller(mint(key, client_id="c" * 200 + "-one")).actor
    second = check.caller(mint(key, client_id="c" * 200 + "-two")).actor
    assert first != second
    assert len(first) == len(second) == ACTOR_LENGTH
    assert first.startswith("oauth:ccc")
    assert bounded_actor("oauth:short") == "oauth:short"


class _Redirecting(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "https://127.0.0.1:9/jwks.json")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Dripping(BaseHTTPRequestHandler):
    """A key set sent a byte at a time, each well within the socket timeout."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            for _ in range(60):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass  # the client gave up, as it should

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_key_set_fetch_follows_no_redirect_to_another_scheme() -> None:
    with serving(_Redirecting) as base:
        settings = replace(SETTINGS, jwks_url=f"{base}/jwks.json")
        with pytest.raises(OSError, match="another scheme"):
            tokens.fetch_key_set(settings)


def test_a_key_set_fetch_has_a_deadline_for_the_whole_fetch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tokens, "FETCH_DEADLINE_SECONDS", 1.0)
    with serving(_Dripping) as base:
        settings = replace(SETTINGS, jwks_url=f"{base}/jwks.json")
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            tokens.fetch_key_set(settings)
        assert time.monotonic() - started < 3
