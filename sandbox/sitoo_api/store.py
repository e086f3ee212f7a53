"""In-memory order store: per account, orders indexed by id, monotonically increasing ids."""

from __future__ import annotations

import bisect
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.sitoo_api.errors import ApiError
from sandbox.sitoo_api.models import JsonObject
from sandbox.sitoo_api.query import OrderQuery

STATE_VERSION = 1
RECEIPT_LOG_TYPE = 999  # the POS writes "(register) Receipt #n" in a type-999 log item
# Order log type 999 holds "Register 1 (SII0000001500001)\nReceipt #10009\nStaff" (spec §5.9).
_RECEIPT_LOG = re.compile(r"\(([^)\s]+)\)\s*Receipt #(\d+)")


def receipt_ids(order: JsonObject) -> set[str]:
    """The ``receiptid`` filter values an order answers to.

    [inferred] ``additionaldata["pos-receiptid"]`` as written, and register serial + receipt
    number taken from a type-999 log item (``SII0000001500001`` + ``10009``).
    """
    ids: set[str] = set()
    pos_receipt = order["additionaldata"].get("pos-receiptid")
    if pos_receipt:
        ids.add(pos_receipt)
    for log in order["orderlogitems"]:
        if log["orderlogtypeid"] == RECEIPT_LOG_TYPE and log["strvalue"]:
            match = _RECEIPT_LOG.search(log["strvalue"])
            if match:
                ids.add(match.group(1) + match.group(2))
    return ids


@dataclass
class AccountOrders:
    """All orders of one account. ``ids`` is ascending (ids are never reused or deleted)."""

    account_id: int
    next_orderid: int
    orders: dict[int, JsonObject] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)
    by_externalid: dict[str, int] = field(default_factory=dict)
    by_creditorderid: dict[int, list[int]] = field(default_factory=dict)
    by_receiptid: dict[str, list[int]] = field(default_factory=dict)
    # Eventual consistency: remaining GETs that answer 404 for a freshly added order.
    hidden_reads: dict[int, int] = field(default_factory=dict)

    def allocate_id(self) -> int:
        orderid = self.next_orderid
        self.next_orderid += 1
        return orderid

    def check_links(self, order: JsonObject, *, replacing: int | None = None) -> None:
        """Cross-order rules: unique ``externalid``, existing ``creditorderid``."""
        externalid = order["externalid"]
        if externalid is not None:
            owner = self.by_externalid.get(externalid)
            if owner is not None and owner != replacing:
                raise ApiError(400, f"Field 'externalid' must be unique: {externalid!r} is taken")
        credit = order["creditorderid"]
        if credit is not None and credit not in self.orders:
            raise ApiError(400, f"Invalid value for field 'creditorderid': no order {credit}")

    def add(self, order: JsonObject, *, hidden_reads: int = 0) -> None:
        orderid: int = order["orderid"]
        if self.ids and orderid <= self.ids[-1]:
            raise ValueError("order ids must increase")
        self.orders[orderid] = order
        self.ids.append(orderid)
        self.next_orderid = max(self.next_orderid, orderid + 1)
        self._index(order)
        if hidden_reads:
            self.hidden_reads[orderid] = hidden_reads

    def replace(self, order: JsonObject) -> None:
        orderid: int = order["orderid"]
        self._unindex(self.orders[orderid])
        self.orders[orderid] = order
        self._index(order)

    def read(self, orderid: int) -> JsonObject | None:
        """The order as ``GET …/orders/{id}.json`` sees it (honours hidden reads)."""
        remaining = self.hidden_reads.get(orderid)
        if remaining:
            if remaining == 1:
                del self.hidden_reads[orderid]
            else:
                self.hidden_reads[orderid] = remaining - 1
            return None
        return self.orders.get(orderid)

    def _index(self, order: JsonObject) -> None:
        orderid = order["orderid"]
        if order["externalid"] is not None:
            self.by_externalid[order["externalid"]] = orderid
        if order["creditorderid"] is not None:
            bisect.insort(self.by_creditorderid.setdefault(order["creditorderid"], []), orderid)
        for receipt in receipt_ids(order):
            bisect.insort(self.by_receiptid.setdefault(receipt, []), orderid)

    def _unindex(self, order: JsonObject) -> None:
        orderid = order["orderid"]
        if order["externalid"] is not None:
            self.by_externalid.pop(order["externalid"], None)
        if order["creditorderid"] is not None:
            self.by_creditorderid[order["creditorderid"]].remove(orderid)
        for receipt in receipt_ids(order):
            self.by_receiptid[receipt].remove(orderid)

    # --- listing -------------------------------------------------------------------------

    def _candidates(self, query: OrderQuery) -> Iterable[int]:
        """Ids to consider, ascending. ``receiptid`` / ``creditorderid`` override ``orderid``."""
        chosen: set[int] | None = None
        if query.creditorderid is not None:
            chosen = {i for c in query.creditorderid for i in self.by_creditorderid.get(c, ())}
        if query.receiptid is not None:
            found = {i for r in query.receiptid for i in self.by_receiptid.get(r, ())}
            chosen = found if chosen is None else chosen & found
        if chosen is None and query.orderid is not None:
            chosen = {i for i in query.orderid if i in self.orders}
        if chosen is not None:
            return sorted(i for i in chosen if query.in_id_range(i))
        low = 0 if query.orderidfrom is None else bisect.bisect_left(self.ids, query.orderidfrom)
        high = len(self.ids)
        if query.orderidto is not None:
            high = bisect.bisect_left(self.ids, query.orderidto)
        return self.ids[low:high]

    def matching(self, query: OrderQuery) -> Iterator[JsonObject]:
        for orderid in self._candidates(query):
            order = self.orders[orderid]
            if query.matches(order):
                yield order

    def list(self, query: OrderQuery) -> tuple[int, list[JsonObject]]:
        """``(totalcount before paging, the page)`` sorted as asked."""
        found = list(self.matching(query))
        if query.descending:
            found.reverse()
        return len(found), found[query.start : query.start + query.num]


class OrderStore:
    """All accounts' orders, with optional persistence to a JSON state file."""

    def __init__(self, account_ids: Iterable[int], first_orderid: int = 1) -> None:
        self._account_ids = tuple(account_ids)
        self._first_orderid = first_orderid
        self.accounts: dict[int, AccountOrders] = {}
        self.reset()

    def reset(self) -> None:
        self.accounts = {
            account_id: AccountOrders(account_id, next_orderid=self._first_orderid)
            for account_id in self._account_ids
        }

    def account(self, account_id: int) -> AccountOrders:
        return self.accounts[account_id]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "accounts": {
                str(account_id): {
                    "next_orderid": account.next_orderid,
                    "orders": [account.orders[i] for i in account.ids],
                }
                for account_id, account in self.accounts.items()
            },
        }

    def load_json(self, data: dict[str, Any]) -> None:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state file version {data.get('version')!r}")
        self.reset()
        for key, saved in data["accounts"].items():
            account = self.accounts.get(int(key))
            if account is None:
                continue  # an account no longer configured
            for order in sorted(saved["orders"], key=lambda o: int(o["orderid"])):
                account.add(order)
            account.next_orderid = max(account.next_orderid, int(saved["next_orderid"]))

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_json(), handle, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, path: Path) -> bool:
        """Load ``path`` if it exists; returns whether it did."""
        if not path.exists():
            return False
        self.load_json(json.loads(path.read_text(encoding="utf-8")))
        return True
