"""Optional JSON persistence of the emulator's state.

Policy: the state file is loaded when the application starts (before it serves), saved by a
background task every ``save_interval_s`` seconds when something changed, on
``POST /_sandbox/save``, and once more on shutdown (aiohttp ``cleanup_ctx``). Writes are atomic
(temporary file + rename).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.bloomreach.consent import CONSENT_EVENT
from sandbox.bloomreach.state import STATE, EmulatorState
from sandbox.bloomreach.store import Customer, ProjectStore, StoredEvent

FORMAT_VERSION = 1


def snapshot_project(store: ProjectStore) -> dict[str, Any]:
    return {
        "customers": [
            {
                "cid": c.cid,
                "hard_ids": c.hard_ids,
                "soft_ids": c.soft_ids,
                "properties": c.properties,
                "property_ts": c.property_ts,
                "segments": c.segments,
                "events": [
                    [e.type, e.timestamp, e.properties, e.seq, e.customer_ids] for e in c.events
                ],
            }
            for c in store.customers.values()
        ],
        "fingerprints": sorted(store.fingerprints),
        "known_properties": sorted(store.known_properties),
        "segmentations": store.segmentations,
        "aggregates": store.aggregates,
        "stats": store.stats,
        "next_cid": store.next_cid,
        "seq": store.seq,
    }


def restore_project(store: ProjectStore, data: dict[str, Any]) -> None:
    store.reset()
    for raw in data.get("customers", []):
        customer = Customer(
            cid=raw["cid"],
            hard_ids=raw["hard_ids"],
            soft_ids=raw["soft_ids"],
            properties=raw["properties"],
            property_ts=raw["property_ts"],
            segments=raw.get("segments", {}),
        )
        for etype, ts, props, seq, ids in raw["events"]:
            event = StoredEvent(etype, ts, props, seq, ids)
            customer.events.append(event)
            category = props.get("category") if etype == CONSENT_EVENT else None
            if isinstance(category, str):
                last = customer.consents.get(category)
                if last is None or event.newer_than(last):
                    customer.consents[category] = event
        store.customers[customer.cid] = customer
        for name, value in customer.hard_ids.items():
            store.index[(name, value)] = customer
        for name, values in customer.soft_ids.items():
            for value in values:
                store.index[(name, value)] = customer
    store.fingerprints = set(data.get("fingerprints", []))
    store.known_properties = set(data.get("known_properties", []))
    store.segmentations = dict(data.get("segmentations", {}))
    store.aggregates = dict(data.get("aggregates", {}))
    store.stats.update(data.get("stats", {}))
    store.next_cid = int(data.get("next_cid", len(store.customers) + 1))
    store.seq = int(data.get("seq", 0))


def load(state: EmulatorState, path: Path) -> None:
    if not path.exists():
        return
    data = json.loads(path.read_text())
    for token, project in data.get("projects", {}).items():
        store = state.projects.get(token)
        if store is not None:  # projects no longer configured are ignored
            restore_project(store, project)


def save(state: EmulatorState, path: Path) -> None:
    data = {
        "format": FORMAT_VERSION,
        "projects": {t: snapshot_project(s) for t, s in state.projects.items()},
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(tmp, path)


def _versions(state: EmulatorState) -> tuple[int, ...]:
    return tuple(s.version for s in state.projects.values())


async def persistence_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: load on start, save periodically when changed and on shutdown."""
    state = app[STATE]
    path = state.config.state_file
    if path is None:
        yield
        return
    load(state, path)
    saved = _versions(state)

    async def saver() -> None:
        nonlocal saved
        while True:
            await asyncio.sleep(state.config.save_interval_s)
            current = _versions(state)
            if current != saved:
                save(state, path)
                saved = current

    task = asyncio.create_task(saver())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        save(state, path)
