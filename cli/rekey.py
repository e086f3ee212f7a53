"""`sitoo-bloomreach rekey`: after a master-key change, reseal every stored secret under the
new key (SITOO_BR_MASTER_KEY) while the old one is still given (SITOO_BR_MASTER_KEY_PREVIOUS).
Runs against the database directly, like `migrate`; safe while the services run, provided
they were restarted with the same two settings first."""

from __future__ import annotations

import asyncio

from core_service.adapters.db.rekey_repo import RekeyRepository
from core_service.bootstrap import open_database
from core_service.services.rekey import RekeyReport, rekey
from runtime.settings import Settings


async def _run(settings: Settings) -> RekeyReport:
    engine, sessions, box = await open_database(settings)
    try:
        return await rekey(RekeyRepository(sessions, box), box.key_id)
    finally:
        await engine.dispose()


def rekey_command(settings: Settings) -> int:
    report = asyncio.run(_run(settings))
    print(f"resealing under master key {report.key_id}")
    for kind, tally in report.tallies.items():
        print(
            f"  {kind:20} resealed {tally['resealed']:>7,}   already current "
            f"{tally['current']:>7,}   left {tally['changed_meanwhile'] + tally['unreadable']:>5,}"
        )
    if report.left:
        print(
            f"{report.left} value(s) are still sealed under another key (unreadable with the "
            "configured keys, or changed while resealing): keep SITOO_BR_MASTER_KEY_PREVIOUS and "
            "run `sitoo-bloomreach rekey` again"
        )
        return 1
    print("done: nothing needs a previous key; SITOO_BR_MASTER_KEY_PREVIOUS can be removed")
    return 0
