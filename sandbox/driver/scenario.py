"""A store day: customers, sales, refunds and anonymous sales, end to end.

:func:`plan_store_day` turns a :class:`StoreDayConfig` into a deterministic plan (the seed fixes
names, baskets, refund choices and the timeline). :func:`run_store_day` plays it:

1. creates the customers through the POS client (CRM SPI ``POST /customers``) on the edge;
2. posts the orders to the Sitoo REST API (``POST /v2/accounts/{account}/sites/{site}/orders.json``)
   in arrival order — identified sales carry ``additionaldata.crm-customerid``; refunds are new
   orders with negative quantities, ``creditorderid`` and ``pos-originalsales-orderid``; some
   sales are *offline*: uploaded after orders whose ``orderdate`` is later than theirs;
   Some sale lines carry a manual row discount or a voucher (percentage or fixed sum), written
   as Sitoo's ``addOrder`` example writes them: ``moneyrowprice`` (gross, before the discount)
   and ``moneyrowdiscount``; their refunds return what was paid;
3. queues the matching ``order`` events (``add``, then ``update``/``closed``) on the
   :class:`~sandbox.driver.webhooks.EventSender` and flushes it;
4. returns the :class:`ExpectedOutcome`: which purchases and refunds must land on which
   customer (hard ID = e-mail, lower-cased) and which orders must be skipped.

The plan lives in :mod:`sandbox.driver.store_plan`, the Sitoo API client in
:mod:`sandbox.driver.sitoo_orders`, the expected outcome in :mod:`sandbox.driver.expected`;
this module re-exports what callers import from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from sandbox.bloomreach.offers import OfferTracker
from sandbox.driver.expected import (
    ExpectedCustomer,
    ExpectedItem,
    ExpectedOutcome,
    ExpectedPurchase,
    ExpectedSkip,
)
from sandbox.driver.loyalty_plan import plan_loyalty
from sandbox.driver.loyalty_run import LoyaltyDay
from sandbox.driver.pos_client import PosClient, SpiConnectionError, SpiResult
from sandbox.driver.sitoo_orders import SitooOrdersClient, refund_order_body, sale_order_body
from sandbox.driver.store_plan import (
    CATALOGUE,
    PlannedLine,
    PlannedOrder,
    ScenarioError,
    StoreDayConfig,
    StoreDayPlan,
    StoreInfo,
    money,
    plan_store_day,
)
from sandbox.driver.webhooks import EventSender, order_event

_TEMPORARY = frozenset({0, 429, 502, 503, 504})  # 0 = POS timeout


# --- run -----------------------------------------------------------------------------------


async def create_customer(
    pos: PosClient, body: Mapping[str, Any], *, attempts: int = 4
) -> tuple[str, str | None]:
    """Add one customer like a cashier would (retrying a temporary failure).

    Returns the ``customer_id`` and ``member_number`` (if any) the edge answered with.
    """
    result: SpiResult | None = None
    for attempt in range(attempts):
        try:
            result = await pos.create(body)
        except SpiConnectionError as exc:
            raise ScenarioError(f"edge unreachable: {exc}") from exc
        if result.status not in _TEMPORARY:
            break
        await asyncio.sleep(0.05 * 2**attempt)
    assert result is not None
    customer_id = result.body.get("customer_id") if isinstance(result.body, dict) else None
    if result.status != HTTPStatus.OK or not isinstance(customer_id, str):
        raise ScenarioError(
            f"add customer {body.get('email')!r} failed: status {result.status}, "
            f"body {result.text[:300]!r}"
        )
    member = result.body.get("member_number")
    return customer_id, member if isinstance(member, str) and member else None


async def run_store_day(
    config: StoreDayConfig,
    pos: PosClient | None,
    sitoo: SitooOrdersClient,
    sender: EventSender,
    *,
    plan: StoreDayPlan | None = None,
    offers: OfferTracker | None = None,
    hard_id_name: str = "registered",
) -> ExpectedOutcome:
    """Play the day; see the module docstring. Events are flushed before returning.

    With ``config.loyalty_members``, ``offers`` (the Bloomreach project's tracker) gives the
    members their offers before the first sale and the POS redeems them
    (:mod:`sandbox.driver.loyalty_plan`); the customers' hard ID is ``hard_id_name``."""
    plan = plan or plan_store_day(config)
    ids: list[str] = []
    member_numbers: list[str | None] = []
    for planned in plan.customers:
        if config.create_customers_via_spi:
            if pos is None:
                raise ScenarioError("creating customers through the SPI needs a PosClient")
            new_id, member_number = await create_customer(pos, planned.body)
        else:
            new_id, member_number = planned.hard_id, None
        ids.append(new_id)
        member_numbers.append(member_number)

    loyalty = _loyalty_day(config, plan, pos, offers, ids, hard_id_name=hard_id_name)
    if loyalty is not None:
        await loyalty.run()

    orderids: dict[int, int] = {}
    purchases: list[ExpectedPurchase] = []
    skipped: list[ExpectedSkip] = []
    event_ids: list[str] = []
    for order in plan.orders:
        customer = plan.customers[order.customer] if order.customer is not None else None
        customer_id = ids[order.customer] if order.customer is not None else None
        member = member_numbers[order.customer] if order.customer is not None else None
        if order.kind == "refund":
            assert order.refund_of is not None
            original = orderids[order.refund_of]
            # Like "Refund Historic Purchase": the POS loads the original, then returns lines.
            source = await sitoo.get_order(config.site_id, original)
            body = refund_order_body(order, config, source)
        else:
            original = None
            sold = loyalty.loyalty.sold.get(order.position) if loyalty is not None else None
            body = sale_order_body(order, config, customer_id, customer, member, line_data=sold)
        orderid = await sitoo.add_order(config.site_id, body)
        orderids[order.position] = orderid

        if order.kind == "anonymous":
            skipped.append(ExpectedSkip(orderid, "anonymous", order.order_date))
        else:
            assert customer is not None and customer_id is not None
            purchases.append(
                ExpectedPurchase(
                    order_id=orderid,
                    kind="refund" if order.kind == "refund" else "sale",
                    hard_id=customer.hard_id,
                    customer_id=customer_id,
                    order_date=order.order_date,
                    total_net=money(order.total_net),
                    total_vat=money(order.total_vat),
                    total_gross=money(order.total_gross),
                    items=tuple(
                        ExpectedItem(
                            line.product.sku,
                            line.quantity,
                            money(line.unit_net),
                            line.product.vat_percent,
                            total_net=money(line.net),
                            total_gross=money(line.net + line.vat),
                            discount=money(line.discount),
                            voucher_code=_voucher_of(line),
                        )
                        for line in order.lines
                    ),
                    original_order_id=original,
                    offline=order.offline,
                )
            )

        events = [
            order_event(
                account_id=config.account_id,
                eshop_id=config.site_id,
                order_id=orderid,
                warehouse_id=config.store.warehouse_id,
                event_date=order.arrival,
                order_event_type="add",
            )
        ]
        if config.close_events:
            events.append(
                order_event(
                    account_id=config.account_id,
                    eshop_id=config.site_id,
                    order_id=orderid,
                    warehouse_id=config.store.warehouse_id,
                    event_date=order.arrival + 1,
                    order_event_type="update",
                    order_state_changed="closed",
                )
            )
        sender.enqueue(*events)
        event_ids.extend(e.event_id for e in events)

    await sender.flush()
    customers = tuple(
        ExpectedCustomer(
            hard_id=c.hard_id,
            customer_id=ids[c.index],
            email=c.email,
            name_first=str(c.body["name_first"]),
            name_last=str(c.body["name_last"]),
            mobile=str(c.body["mobile"]),
        )
        for c in plan.customers
    )
    return ExpectedOutcome(
        seed=config.seed,
        run_tag=plan.run_tag,
        account_id=config.account_id,
        site_id=config.site_id,
        customers=customers,
        purchases=tuple(purchases),
        skipped=tuple(skipped),
        event_ids=tuple(event_ids),
        delivery=sender.summary(),
        loyalty=await loyalty.outcome(orderids) if loyalty is not None else None,
    )


def _loyalty_day(
    config: StoreDayConfig,
    plan: StoreDayPlan,
    pos: PosClient | None,
    offers: OfferTracker | None,
    ids: Sequence[str],
    *,
    hard_id_name: str,
) -> LoyaltyDay | None:
    if not config.loyalty_members:
        return None
    if pos is None or offers is None:
        raise ScenarioError("members redeeming offers need a PosClient and an OfferTracker")
    loyalty = plan_loyalty(plan, config.loyalty_members)
    return LoyaltyDay(plan, loyalty, pos, offers, ids, hard_id_name)


def _voucher_of(line: PlannedLine) -> str:
    sold = line.source if line.source is not None else line
    return sold.voucher.code if sold.voucher is not None else ""


def summarize(outcome: ExpectedOutcome) -> dict[str, Any]:
    return {
        "customers": len(outcome.customers),
        "sales": len(outcome.sales),
        "refunds": len(outcome.refunds),
        "skipped": len(outcome.skipped),
        "offline": sum(p.offline for p in outcome.purchases),
        "events": len(outcome.event_ids),
        "offers": len(outcome.loyalty.offers) if outcome.loyalty else 0,
        "loyalty_mismatches": len(outcome.loyalty.mismatches()) if outcome.loyalty else 0,
    }


__all__: Sequence[str] = (
    "CATALOGUE",
    "ExpectedCustomer",
    "ExpectedItem",
    "ExpectedOutcome",
    "ExpectedPurchase",
    "ExpectedSkip",
    "PlannedOrder",
    "ScenarioError",
    "SitooOrdersClient",
    "StoreDayConfig",
    "StoreDayPlan",
    "StoreInfo",
    "plan_store_day",
    "refund_order_body",
    "run_store_day",
    "sale_order_body",
    "summarize",
)


__all__ = [
    "ExpectedOutcome",
    "ScenarioError",
    "SitooOrdersClient",
    "StoreDayConfig",
    "plan_store_day",
    "run_store_day",
    "summarize",
]
