"""Sealed cookie sessions: the whole session lives in one encrypted, authenticated cookie.

The cookie is Fernet-sealed (AES-CBC + HMAC-SHA256) with a key from the settings or a new key
per process; its age is checked on every request. It holds only the signed-in flag, the CSRF
token and a one-line flash message: never a secret of an integration.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

COOKIE_NAME = "sitoo_br_console"


@dataclass
class Session:
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    signed_in: bool = False
    issued_at: float = field(default_factory=time.time)
    flash: str = ""
    changed: bool = False
    is_new: bool = True

    def sign_in(self) -> None:
        """A fresh CSRF token and issue time on sign-in (no fixation of a pre-login session)."""
        self.csrf_token = secrets.token_urlsafe(32)
        self.signed_in = True
        self.issued_at = time.time()
        self.changed = True

    def sign_out(self) -> None:
        self.csrf_token = secrets.token_urlsafe(32)
        self.signed_in = False
        self.changed = True

    def set_flash(self, message: str) -> None:
        self.flash = message
        self.changed = True

    def pop_flash(self) -> str:
        message, self.flash = self.flash, ""
        if message:
            self.changed = True
        return message


def fernet_key(text: str) -> bytes:
    """Any configured key text -> a Fernet key (SHA-256, so length and alphabet are free)."""
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest())


class SessionCodec:
    def __init__(self, key: bytes, max_age_seconds: int) -> None:
        self._fernet = Fernet(key)
        self.max_age_seconds = max_age_seconds

    @classmethod
    def per_process(cls, max_age_seconds: int) -> SessionCodec:
        return cls(Fernet.generate_key(), max_age_seconds)

    def seal(self, session: Session) -> str:
        body = {
            "csrf": session.csrf_token,
            "in": session.signed_in,
            "iat": session.issued_at,
            "flash": session.flash,
        }
        return self._fernet.encrypt(json.dumps(body).encode()).decode()

    def open(self, cookie: str | None) -> Session:
        """The session in ``cookie``; a new, signed-out one when absent, tampered or expired."""
        if not cookie:
            return Session(changed=True)
        try:
            raw = self._fernet.decrypt(cookie.encode(), ttl=self.max_age_seconds)
            body: dict[str, Any] = json.loads(raw)
            if time.time() - float(body["iat"]) > self.max_age_seconds:
                return Session(changed=True)  # signed in too long ago, however active
            return Session(
                csrf_token=str(body["csrf"]),
                signed_in=bool(body["in"]),
                issued_at=float(body["iat"]),
                flash=str(body.get("flash", "")),
                is_new=False,
            )
        except (InvalidToken, ValueError, KeyError, TypeError):
            return Session(changed=True)
