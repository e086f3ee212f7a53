"""Secrets at rest and the credentials Sitoo presents to us.

* Stored secrets (Bloomreach API secret, Sitoo API password) are sealed with AES-256-GCM under
  the master key. The associated data binds each ciphertext to its integration and field, so a
  ciphertext copied into another tenant's row does not decrypt.
* Credentials we issue (SPI and webhook passwords) have 256 bits of entropy, so a keyed
  HMAC-SHA256 is a sound verifier: no brute force is feasible, and the key (derived from the
  master key) keeps a stolen database from even confirming a guess. Checks are constant-time.
* Rotation: every ciphertext names the key that sealed it, and a box may hold previous keys
  beside the current one, so data sealed under an old key still opens while `rekey` reseals
  it. The verifier key is not re-derived from each new master key (the passwords it verifies
  are not ours to recompute): the database keeps it, sealed like any other secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"
_NONCE_BYTES = 12
KEY_BYTES = 32  # AES-256


class MasterKeyError(Exception):
    """The master key is missing, malformed, or not the one the data was sealed with."""


@dataclass(frozen=True)
class MasterKey:
    key: bytes

    @classmethod
    def parse(cls, text: str) -> MasterKey:
        try:
            raw = base64.urlsafe_b64decode(text.strip().encode())
        except (ValueError, TypeError) as exc:
            raise MasterKeyError("the master key is not valid base64") from exc
        if len(raw) != KEY_BYTES:
            raise MasterKeyError(
                f"the master key must be {KEY_BYTES} bytes (base64 of {KEY_BYTES} random bytes), "
                f"got {len(raw)}"
            )
        return cls(raw)

    @staticmethod
    def generate() -> str:
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()

    @property
    def key_id(self) -> str:
        """A short fingerprint naming the key in ciphertexts (for future key rotation)."""
        return hashlib.sha256(b"key-id" + self.key).hexdigest()[:8]

    def _derive(self, purpose: bytes) -> bytes:
        return hmac.new(self.key, purpose, hashlib.sha256).digest()

    def credential_key(self) -> bytes:
        """The verifier key an installation started with (kept in the database from then on)."""
        return self._derive(b"sitoo-bloomreach/credentials/v1")


class SecretBox:
    """Seals under the current master key; opens under it or any previous one."""

    def __init__(
        self,
        master_key: MasterKey,
        previous: Sequence[MasterKey] = (),
        *,
        credential_key: bytes | None = None,
    ) -> None:
        self._key_id = master_key.key_id
        self._keys = {k.key_id: k for k in (*previous, master_key)}
        self._aeads = {
            key_id: AESGCM(k._derive(b"sitoo-bloomreach/secrets/v1"))
            for key_id, k in self._keys.items()
        }
        self._hmac_key = master_key.credential_key() if credential_key is None else credential_key

    @property
    def key_id(self) -> str:
        """The current master key's id: what ``seal`` writes."""
        return self._key_id

    def with_credential_key(self, credential_key: bytes) -> SecretBox:
        keys = [k for key_id, k in self._keys.items() if key_id != self._key_id]
        return SecretBox(self._keys[self._key_id], keys, credential_key=credential_key)

    def master_key(self, key_id: str) -> MasterKey | None:
        return self._keys.get(key_id)

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aeads[self._key_id].encrypt(nonce, plaintext.encode(), context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{_VERSION}:{self._key_id}:{body}"

    @staticmethod
    def sealed_with(token: str) -> str:
        """The id of the master key a stored value was sealed with."""
        try:
            version, key_id, _ = token.split(":", 2)
        except ValueError as exc:
            raise MasterKeyError("a stored secret is not in the expected format") from exc
        if version != _VERSION:
            raise MasterKeyError(f"a stored secret has unknown format {version!r}")
        return key_id

    def open(self, token: str, *, context: str) -> str:
        key_id = self.sealed_with(token)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise MasterKeyError(
                f"a stored secret was sealed with master key {key_id}, but the configured "
                f"key is {self._key_id} and no previous key (SITOO_BR_MASTER_KEY_PREVIOUS) "
                f"is {key_id}"
            )
        raw = base64.urlsafe_b64decode(token.split(":", 2)[2].encode())
        try:
            plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except InvalidTag as exc:
            raise MasterKeyError("a stored secret does not decrypt with the master key") from exc
        return plain.decode()

    def credential_hash(self, password: str) -> str:
        return hmac.new(self._hmac_key, password.encode(), hashlib.sha256).hexdigest()

    def keyed_digest(self, purpose: str, value: str) -> str:
        """A stable pseudonym of ``value`` (HMAC-SHA256 under the verifier key, which outlives
        master-key rotations): lets a row be keyed by a customer without holding the id."""
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self._hmac_key, message, hashlib.sha256).hexdigest()

    def verify_credential(self, password: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.credential_hash(password), stored_hash)


def generate_password() -> str:
    """256 bits, URL-safe: fits in HTTP Basic and in Sitoo's backoffice fields."""
    return secrets.token_urlsafe(32)


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
