"""Issue 11, item 2: an unknown integration name must not be told apart from a wrong password.

Both answers are the same, and both paths do the same work: an unknown name is verified
against a dummy verifier (the HMAC runs) and, once looked up, is remembered for a short while
like a known one, so repeating it does not reach the database each time. Real processes: the
emulator, core and edge over SQLite; the core's own metrics count lookups and checks."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest

from tests.support.customer_stack import INTEGRATION, CustomerStack, customer_stack
from tests.support.metrics import sample_value

pytestmark = pytest.mark.slow

TRIES = 20


@pytest.fixture(scope="module")
def cs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustomerStack]:
    with customer_stack(tmp_path_factory.mktemp("oracle")) as stack:
        yield stack


async def _core_metric(cs: CustomerStack, name: str, **labels: str) -> float:
    url = f"http://{cs.stack.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return sample_value(await response.text(), name, **labels) or 0.0


async def _refusals(cs: CustomerStack, integration: str, user: str) -> list[tuple[int, dict]]:
    answers = []
    headers = {"Authorization": aiohttp.encode_basic_auth(user, "not-the-password")}
    async with aiohttp.ClientSession() as session:
        for _ in range(TRIES):
            url = f"{cs.edge_url}/sitoo/{integration}/consents"
            async with session.get(url, headers=headers) as response:
                body = await response.json()
                body.pop("request_id", None)
                answers.append((response.status, body))
    return answers


async def test_unknown_name_costs_what_a_wrong_password_costs(cs: CustomerStack) -> None:
    lookups = "core_sitoo_credential_lookups_total"
    checks = "core_sitoo_credential_checks_total"
    missing_before = await _core_metric(cs, lookups, result="missing")
    found_before = await _core_metric(cs, lookups, result="found")
    checks_before = await _core_metric(cs, checks)

    unknown = await _refusals(cs, "no-such-shop", "no-such-shop-spi")
    wrong = await _refusals(cs, INTEGRATION, cs.username)

    # The same answer, every time.
    assert {status for status, _ in unknown + wrong} == {401}
    assert all(body == wrong[0][1] for _, body in unknown + wrong)
    # The database saw the unknown name once, not once per request (it saw the known one at
    # most once as well: the two paths cache alike).
    assert await _core_metric(cs, lookups, result="missing") - missing_before == 1
    assert await _core_metric(cs, lookups, result="found") - found_before <= 1
    # ...and every request, unknown name included, ran a credential check.
    assert await _core_metric(cs, checks) - checks_before == 2 * TRIES
