"""The synthetic test order the round trip sends through the outbox."""

from __future__ import annotations

import time
from typing import Any

from core_service.domain.integration import Integration
from core_service.domain.orders import CustomerRule, OrderRef, build_purchase
from core_service.services.validation.checks import VALIDATION_STORE, TestCustomer


def test_order_payload(
    integration: Integration, customer: TestCustomer, purchase_id: str
) -> dict[str, Any]:
    """A synthetic, clearly marked POS sale for the test customer, through the order path's
    own command builder; ids are then marked so nothing can mistake it for a real order."""
    now = int(time.time())
    order = {
        "orderid": 0,
        "ordertypeid": 10,
        "orderstateid": 10,
        "paymentstateid": 20,
        "orderdate": now,
        "currencycode": "SEK",
        "moneytotal_gross_all": "0.00",
        "moneyfinal_net": "0.00",
        "moneyfinal_vat": "0.00",
        "additionaldata": {
            "crm-customerid": customer.customer_id,
            "store-name": VALIDATION_STORE,
            "store-externalid": VALIDATION_STORE,
        },
        "orderitems": [
            {
                "orderitemid": 1,
                "sku": "SITOO-BLOOMREACH-VALIDATION",
                "productname": "sitoo-bloomreach validation (not a sale)",
                "quantity": 1,
                "moneyitemtotal_net": "0.00",
                "moneyitemtotal_vat": "0.00",
                "moneynetpriceperunit": "0.00",
                "vatvalue": 0,
            }
        ],
        "payments": [],
    }
    ref = OrderRef(integration.sitoo.account_id, integration.sitoo.site_id, 0)
    rule = CustomerRule(integration.hard_id_name, integration.hard_id_source_field)
    purchase = build_purchase(order, ref, rule, "sale", customer.customer_id)
    commands = []
    for command in purchase.commands:
        data = dict(command["data"])
        properties = {**data["properties"], "purchase_id": purchase_id, "validation": True}
        suffix = str(command["command_id"]).split(":", 3)[-1]
        commands.append(
            {
                **command,
                "command_id": f"{purchase_id}:{suffix}",
                "data": {**data, "customer_ids": customer.customer_ids, "properties": properties},
            }
        )
    return {
        "validation": True,
        "purchase": {"purchase_id": purchase_id, "kind": "sale"},
        "commands": commands,
    }
