from __future__ import annotations

import time

import pytest

from console.app import check_exposure, session_codec
from console.sessions import Session, SessionCodec, fernet_key
from runtime.settings import ConfigurationError, Settings


def test_a_sealed_session_opens_with_the_same_key_only() -> None:
    codec = SessionCodec(fernet_key("k" * 40), max_age_seconds=60)
    session = Session()
    session.sign_in()
    cookie = codec.seal(session)
    opened = codec.open(cookie)
    assert opened.signed_in and opened.csrf_token == session.csrf_token
    assert not SessionCodec(fernet_key("x" * 40), 60).open(cookie).signed_in


def test_tampered_or_missing_cookies_give_a_new_signed_out_session() -> None:
    codec = SessionCodec.per_process(60)
    cookie = codec.seal(Session(signed_in=True))
    tampered = cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB")
    for value in (None, "", tampered, "not-a-token"):
        opened = codec.open(value)
        assert not opened.signed_in and opened.changed


def test_sign_in_expires_after_max_age_even_when_resealed() -> None:
    codec = SessionCodec.per_process(60)
    old = Session(signed_in=True, issued_at=time.time() - 61)
    assert not codec.open(codec.seal(old)).signed_in


def test_sign_in_rotates_the_csrf_token() -> None:
    session = Session()
    before = session.csrf_token
    session.sign_in()
    assert session.csrf_token != before


def test_configured_session_keys_must_be_long() -> None:
    with pytest.raises(ConfigurationError, match="32"):
        session_codec(Settings(console_session_key="short"))
    assert session_codec(Settings(console_session_key="s" * 32)).max_age_seconds > 0


def test_plain_http_is_refused_off_loopback() -> None:
    check_exposure(Settings(console_host="127.0.0.1"))
    check_exposure(Settings(console_host="0.0.0.0", console_secure_cookies=True))
    with pytest.raises(ConfigurationError, match="HTTPS"):
        check_exposure(Settings(console_host="0.0.0.0"))
