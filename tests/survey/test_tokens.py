"""Dossier tokens: round trip, tampering, wrong key, expiry, no dossier code in clear."""

from __future__ import annotations

import base64
import json
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from survey.tokens import (
    TokenExpired,
    TokenInvalid,
    dossier_hash,
    issue_dossier_token,
    verify_dossier_token,
)

SECRET = "test-secret-for-tokens"
DOSSIER = "000.00.12.H56-240101-0001"
T0 = datetime(2024, 3, 1, 8, 30, tzinfo=UTC)
MAX_AGE = timedelta(days=60)


def _issue(**overrides: object) -> str:
    kwargs: dict[str, object] = {
        "agency_code": "STP",
        "field_code": "HT",
        "procedure_code": "1.001",
        "dossier_code": DOSSIER,
        "issued_at": T0,
    }
    kwargs.update(overrides)
    return issue_dossier_token(SECRET, **kwargs)  # type: ignore[arg-type]


def _flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def _parts(token: str) -> list[str]:
    """Payload, timestamp, signature (itsdangerous prefixes a compressed payload with ".")."""
    return token.rsplit(".", 2)


def _payload(token: str) -> dict[str, str]:
    body = _parts(token)[0]
    compressed = body.startswith(".")
    body = body.lstrip(".")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return json.loads(zlib.decompress(raw) if compressed else raw)


def test_round_trip_returns_every_claim() -> None:
    token = _issue()
    claims = verify_dossier_token(SECRET, token, MAX_AGE, now=T0 + timedelta(days=1))
    assert claims.agency_code == "STP"
    assert claims.field_code == "HT"
    assert claims.procedure_code == "1.001"
    assert claims.dossier_hash == dossier_hash(SECRET, DOSSIER)
    assert claims.issued_at == T0
    assert len(claims.token_id) >= 12


def test_procedure_is_optional() -> None:
    claims = verify_dossier_token(SECRET, _issue(procedure_code=None), MAX_AGE, now=T0)
    assert claims.procedure_code is None


def test_each_token_has_a_fresh_id() -> None:
    ids = {verify_dossier_token(SECRET, _issue(), MAX_AGE, now=T0).token_id for _ in range(20)}
    assert len(ids) == 20


def test_token_is_url_safe_and_short() -> None:
    token = _issue()
    assert len(token) < 200
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_dossier_code_never_appears_in_the_token() -> None:
    for _ in range(50):  # some payloads are compressed, some are not
        token = _issue()
        decoded = json.dumps(_payload(token))
        for text in (token, decoded):
            assert DOSSIER not in text
            assert "240101-0001" not in text  # a distinctive part; 3 letters occur by chance
        assert set(_payload(token)) == {"a", "f", "p", "h", "n"}


def test_dossier_hash_is_keyed_and_normalised() -> None:
    assert dossier_hash(SECRET, DOSSIER) == dossier_hash(SECRET, f"  {DOSSIER.lower()} ")
    assert dossier_hash(SECRET, DOSSIER) != dossier_hash("another-secret", DOSSIER)
    assert dossier_hash(SECRET, DOSSIER) != dossier_hash(SECRET, DOSSIER + "2")
    assert len(dossier_hash(SECRET, DOSSIER)) == 16


@pytest.mark.parametrize("part", [0, 1, 2], ids=["payload", "timestamp", "signature"])
def test_tampering_with_any_part_is_rejected(part: int) -> None:
    for _ in range(50):  # compressed and plain payloads alike
        pieces = _parts(_issue())
        pieces[part] = _flip(pieces[part], len(pieces[part]) // 2)
        with pytest.raises(TokenInvalid):
            verify_dossier_token(SECRET, ".".join(pieces), MAX_AGE, now=T0)


def test_a_payload_swapped_from_another_token_is_rejected() -> None:
    mine = _parts(_issue())
    other = _parts(_issue(agency_code="UBND-X"))
    forged = ".".join([other[0], mine[1], mine[2]])
    with pytest.raises(TokenInvalid):
        verify_dossier_token(SECRET, forged, MAX_AGE, now=T0)


def test_wrong_key_is_rejected() -> None:
    with pytest.raises(TokenInvalid):
        verify_dossier_token("not-the-secret", _issue(), MAX_AGE, now=T0)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "%%%", "x" * 600, "é.é.é"])
def test_garbage_is_invalid_not_a_crash(garbage: str) -> None:
    with pytest.raises(TokenInvalid):
        verify_dossier_token(SECRET, garbage, MAX_AGE, now=T0)


def test_expiry_uses_the_injected_clock() -> None:
    token = _issue()
    verify_dossier_token(SECRET, token, MAX_AGE, now=T0 + MAX_AGE)  # exactly at the limit: fine
    with pytest.raises(TokenExpired) as info:
        verify_dossier_token(SECRET, token, MAX_AGE, now=T0 + MAX_AGE + timedelta(seconds=2))
    assert info.value.issued_at == T0


def test_expired_forgery_is_invalid_rather_than_expired() -> None:
    pieces = _parts(_issue())
    pieces[2] = _flip(pieces[2], 3)
    with pytest.raises(TokenInvalid):
        verify_dossier_token(SECRET, ".".join(pieces), MAX_AGE, now=T0 + timedelta(days=365))


def test_authentic_token_with_foreign_payload_shape_is_invalid() -> None:
    from itsdangerous import URLSafeTimedSerializer

    import survey.tokens as tokens

    serializer = URLSafeTimedSerializer(
        SECRET, salt=tokens._SALT, signer_kwargs={"digest_method": tokens.hashlib.sha256}
    )
    for payload in (["STP"], {"a": "STP"}, {"a": "STP", "f": "HT", "h": "x", "n": 5}):
        with pytest.raises(TokenInvalid):
            verify_dossier_token(SECRET, serializer.dumps(payload), MAX_AGE)


@pytest.mark.parametrize(
    "overrides",
    [{"agency_code": ""}, {"field_code": "  "}, {"dossier_code": ""}, {"procedure_code": ""}],
)
def test_issuing_rejects_empty_codes(overrides: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="must be a non-empty string"):
        _issue(**overrides)


def test_issuing_requires_a_secret_and_aware_times() -> None:
    with pytest.raises(ValueError, match="secret"):
        issue_dossier_token(
            "", agency_code="A", field_code="F", procedure_code=None, dossier_code="D"
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        _issue(issued_at=datetime(2024, 1, 1))
