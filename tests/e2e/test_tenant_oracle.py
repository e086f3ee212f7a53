"""Issue 11, item 2: an unknown integration name must not be told apart from a wrong password.

Both answers are the same, and both paths do the same work: an unknown name is verified
against a dummy verifier (the HMAC runs), and made-up names, new or repeated, do not reach the
database per request (the core reads all verifiers in one query now and then). Real
processes: the emulator, core and edge over SQLite; the core's own metrics count database
reads and credential checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from harness.customer_stack import INTEGRATION, CustomerStack, customer_stack
from harness.metrics import sample_value

pytestmark = pytest.mark.slow

TRIES = 20


@pytest.fixture(scope="module")
def cs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustomerStack]:
    # A copy of the verifiers that does not expire during the test: every read is counted.
    env = {"SITOO_BR_SITOO_CREDENTIAL_CACHE_SECONDS": "300"}
    with customer_stack(tmp_path_factory.mktemp("oracle"), env) as stack:
        yield stack


async def _core_metric(cs: CustomerStack, name: str, **labels: str) -> float:
    url = f"http://{cs.stack.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return sample_value(await response.text(), name, **labels) or 0.0


async def _refusals(
    cs: CustomerStack, integration: str, user: str
) -> list[tuple[int, dict[str, Any]]]:
    """``TRIES`` wrong credentials for ``integration``; a new made-up name each time for "*"."""
    answers = []
    headers = {"Authorization": aiohttp.encode_basic_auth(user, "not-the-password")}
    async with aiohttp.ClientSession() as session:
        for n in range(TRIES):
            name = f"made-up-{n}" if integration == "*" else integration
            url = f"{cs.edge_url}/sitoo/{name}/consents"
            async with session.get(url, headers=headers) as response:
                body = await response.json()
                body.pop("request_id", None)
                answers.append((response.status, body))
    return answers


async def test_unknown_name_costs_what_a_wrong_password_costs(cs: CustomerStack) -> None:
    loads = "core_sitoo_credential_directory_loads_total"
    checks = "core_sitoo_credential_checks_total"
    loads_before = await _core_metric(cs, loads)
    checks_before = await _core_metric(cs, checks)

    repeated = await _refusals(cs, "no-such-shop", "no-such-shop-spi")
    made_up = await _refusals(cs, "*", "made-up-spi")
    wrong = await _refusals(cs, INTEGRATION, cs.username)

    # The same answer, every time.
    everything = repeated + made_up + wrong
    assert {status for status, _ in everything} == {401}
    assert all(body == wrong[0][1] for _, body in everything)
    # The database was read at most once for all of them (once if the copy was stale), not
    # once per unknown name or per request.
    assert await _core_metric(cs, loads) - loads_before <= 1
    # ...and every request, unknown names included, ran a credential check.
    assert await _core_metric(cs, checks) - checks_before == 3 * TRIES
