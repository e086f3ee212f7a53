"""Optional JSON state file: loaded at start, saved on shutdown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from sandbox.sitoo_api import SitooAccount, SitooApiConfig, create_app
from sandbox.sitoo_api.orders import OrderLine, sale_order


async def test_state_survives_a_restart(
    tmp_path: Path, start_emulator: Any, make_config: Any
) -> None:
    state_file = tmp_path / "sitoo" / "state.json"
    config = make_config(state_file=state_file)
    app = create_app(config)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        url = str(server.make_url("/v2/accounts/1500/sites/1/orders.json"))
        headers = {"Authorization": aiohttp.encode_basic_auth("1500-1", "s3cret")}
        body = sale_order([OrderLine("A", 1, "10.00")], externalid="web-1")
        async with session.post(url, json=body, headers=headers) as response:
            first = await response.json()
    await server.close()  # on_cleanup writes the file
    saved = json.loads(state_file.read_text())
    assert saved["version"] == 1
    assert [o["orderid"] for o in saved["accounts"]["1500"]["orders"]] == [first]

    api = await start_emulator(config)
    restored = await api.order(first)
    assert restored["moneytotal_gross_all"] == "12.50"
    assert await api.add(sale_order([OrderLine("B")])) == first + 1
    clash = await api.post(
        "/v2/accounts/1500/sites/1/orders.json",
        json=sale_order([OrderLine("A")], externalid="web-1"),
    )
    assert clash.status == 400  # the externalid index was rebuilt


def test_unknown_state_version_is_refused(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps({"version": 99, "accounts": {}}))
    config = SitooApiConfig(accounts=(SitooAccount(),), state_file=state_file)
    with pytest.raises(ValueError, match="version"):
        create_app(config)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="api_id"):
        SitooAccount(account_id=1500, api_id="1501-1")
    with pytest.raises(ValueError, match="api_id"):
        SitooAccount(account_id=1500, api_id="1500")
    with pytest.raises(ValueError, match="max_num"):
        SitooApiConfig(max_num=0)
    with pytest.raises(ValueError, match="unique"):
        SitooApiConfig(accounts=(SitooAccount(), SitooAccount()))
