"""The installation's key material in the database: the canary that proves a configured master
key is this database's, and the credential-verifier key (sealed like any other secret, so it
survives master-key rotation)."""

from __future__ import annotations

import base64

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.models import Meta
from core_service.crypto import MasterKeyError, SecretBox

CANARY_KEY = "master_key_canary"
CANARY_CONTEXT = "meta/master_key_canary"
CANARY_TEXT = "sitoo-bloomreach master key canary"
CREDENTIAL_KEY = "credential_verifier_key"
CREDENTIAL_CONTEXT = "meta/credential_verifier_key"


async def open_secret_box(sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> SecretBox:
    """Fail at start-up, not at the first secret read, when no configured key is this
    database's; then load the installation's credential-verifier key (created on first use
    from the master key that sealed the canary, which is the key every existing verifier was
    made with)."""
    try:
        return await _open_secret_box(sessions, box)
    except IntegrityError:
        # Another process created the rows at the same moment: read theirs.
        return await _open_secret_box(sessions, box)


async def _open_secret_box(sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> SecretBox:
    async with sessions.begin() as session:
        found = await session.scalars(
            select(Meta).where(Meta.key.in_([CANARY_KEY, CREDENTIAL_KEY]))
        )
        rows = {row.key: row.value for row in found.all()}
        canary = rows.get(CANARY_KEY)
        if canary is None:
            session.add(Meta(key=CANARY_KEY, value=box.seal(CANARY_TEXT, context=CANARY_CONTEXT)))
            origin = box.key_id
        else:
            try:
                box.open(canary, context=CANARY_CONTEXT)
            except MasterKeyError as exc:
                raise MasterKeyError(
                    "the configured master key is not the key this database's secrets were "
                    f"sealed with ({exc}); set SITOO_BR_MASTER_KEY or SITOO_BR_MASTER_KEY_FILE "
                    "to that key"
                ) from exc
            origin = box.sealed_with(canary)
        sealed_key = rows.get(CREDENTIAL_KEY)
        if sealed_key is None:
            origin_key = box.master_key(origin)
            assert origin_key is not None  # the canary just opened with it
            credential_key = origin_key.credential_key()
            session.add(
                Meta(
                    key=CREDENTIAL_KEY,
                    value=box.seal(
                        base64.b64encode(credential_key).decode(), context=CREDENTIAL_CONTEXT
                    ),
                )
            )
        else:
            credential_key = base64.b64decode(box.open(sealed_key, context=CREDENTIAL_CONTEXT))
    return box.with_credential_key(credential_key)
