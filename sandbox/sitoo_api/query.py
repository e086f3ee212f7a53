"""Parsing of the ``GET …/orders.json`` query string into an :class:`OrderQuery`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sandbox.sitoo_api.errors import ApiError
from sandbox.sitoo_api.models import ORDER_FIELDS, ORDER_STATES, PAYMENT_STATES, JsonObject

DEFAULT_NUM = 10

#: Query parameters the list endpoints understand. Others are ignored, as Sitoo does (a
#: connector using an undocumented date parameter saw it silently ignored, spec §8); the
#: emulator counts them in ``/_sandbox/stats`` under ``ignored_params`` so tests can notice.
KNOWN_PARAMS = frozenset(
    {
        "eshopid",
        "externalid",
        "orderid",
        "receiptid",
        "creditorderid",
        "orderidfrom",
        "orderidto",
        "orderdatefrom",
        "orderdateto",
        "orderstate",
        "paymentstate",
        "ordertype",
        "warehouseid",
        "email",
        "start",
        "num",
        "sort",
        "fields",
    }
)
SITE_PARAMS = KNOWN_PARAMS - {"eshopid"}


def _ints(name: str, raw: str, allowed: Mapping[int, str] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in raw.split(","):
        part = part.strip()
        try:
            value = int(part)
        except ValueError:
            raise ApiError(400, f"Invalid value for parameter '{name}': {part!r}") from None
        if allowed is not None and value not in allowed:
            raise ApiError(400, f"Invalid value for parameter '{name}': {value}")
        values.add(value)
    return frozenset(values)


def _int(name: str, raw: str | None, minimum: int | None = None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid value for parameter '{name}': {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ApiError(400, f"Invalid value for parameter '{name}': {value}")
    return value


def _strs(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class OrderQuery:
    """Filters, paging, sort and field selection of one list request.

    ``orderidfrom`` is inclusive and ``orderidto`` exclusive [documented]; ``orderdatefrom`` /
    ``orderdateto`` follow the same half-open rule [inferred]. ``email`` matches the whole
    address, ignoring case [inferred].
    """

    start: int = 0
    num: int = DEFAULT_NUM
    descending: bool = True
    fields: tuple[str, ...] | None = None
    orderid: frozenset[int] | None = None
    receiptid: frozenset[str] | None = None
    creditorderid: frozenset[int] | None = None
    orderidfrom: int | None = None
    orderidto: int | None = None
    orderdatefrom: int | None = None
    orderdateto: int | None = None
    eshopid: frozenset[int] | None = None
    externalid: frozenset[str] | None = None
    orderstate: frozenset[int] | None = None
    paymentstate: frozenset[int] | None = None
    ordertype: frozenset[int] | None = None
    warehouseid: frozenset[int] | None = None
    email: frozenset[str] | None = None

    def in_id_range(self, orderid: int) -> bool:
        if self.orderidfrom is not None and orderid < self.orderidfrom:
            return False
        return self.orderidto is None or orderid < self.orderidto

    def matches(self, order: JsonObject) -> bool:
        """Everything but the id filters, which the store applies through its indexes."""
        date: int = order["orderdate"]
        if self.orderdatefrom is not None and date < self.orderdatefrom:
            return False
        if self.orderdateto is not None and date >= self.orderdateto:
            return False
        checks: tuple[tuple[frozenset[int] | frozenset[str] | None, object], ...] = (
            (self.eshopid, order["eshopid"]),
            (self.externalid, order["externalid"]),
            (self.orderstate, order["orderstateid"]),
            (self.paymentstate, order["paymentstateid"]),
            (self.ordertype, order["ordertypeid"]),
            (self.warehouseid, order["warehouseid"]),
        )
        for wanted, value in checks:
            if wanted is not None and value not in wanted:
                return False
        return self.email is None or (order["email"] or "").lower() in self.email


def parse_fields(raw: str | None) -> tuple[str, ...] | None:
    """``fields=a,b``: a whitelist of order properties. Unknown names → 400 [inferred]."""
    if raw is None:
        return None
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    unknown = [name for name in names if name not in ORDER_FIELDS]
    if unknown:
        raise ApiError(400, f"Invalid value for parameter 'fields': unknown {', '.join(unknown)}")
    return names or None


def parse_query(
    params: Mapping[str, str], *, max_num: int, site_id: int | None
) -> tuple[OrderQuery, list[str]]:
    """Parse list parameters; returns the query and the names of ignored parameters.

    ``site_id`` is set for the per-site endpoint, which has no ``eshopid`` filter: the site in
    the path restricts the list instead.
    """
    known = KNOWN_PARAMS if site_id is None else SITE_PARAMS
    ignored = sorted(name for name in params if name not in known)
    get = params.get
    start = _int("start", get("start"), minimum=0) or 0
    num = _int("num", get("num"), minimum=0)
    if num is None:
        num = DEFAULT_NUM
    if num > max_num:
        raise ApiError(400, f"Invalid value for parameter 'num': maximum is {max_num}")
    sort = get("sort", "-orderid")
    if sort not in ("orderid", "-orderid"):
        raise ApiError(400, f"Invalid value for parameter 'sort': {sort!r}")

    def ints(name: str, allowed: Mapping[int, str] | None = None) -> frozenset[int] | None:
        raw = get(name)
        return None if raw is None else _ints(name, raw, allowed)

    def strs(name: str) -> frozenset[str] | None:
        raw = get(name)
        return None if raw is None else _strs(raw)

    email = strs("email")
    eshopid = frozenset({site_id}) if site_id is not None else ints("eshopid")
    query = OrderQuery(
        start=start,
        num=num,
        descending=sort == "-orderid",
        fields=parse_fields(get("fields")),
        orderid=ints("orderid"),
        receiptid=strs("receiptid"),
        creditorderid=ints("creditorderid"),
        orderidfrom=_int("orderidfrom", get("orderidfrom")),
        orderidto=_int("orderidto", get("orderidto")),
        orderdatefrom=_int("orderdatefrom", get("orderdatefrom")),
        orderdateto=_int("orderdateto", get("orderdateto")),
        eshopid=eshopid,
        externalid=strs("externalid"),
        orderstate=ints("orderstate", ORDER_STATES),
        paymentstate=ints("paymentstate", PAYMENT_STATES),
        ordertype=ints("ordertype"),
        warehouseid=ints("warehouseid"),
        email=None if email is None else frozenset(e.lower() for e in email),
    )
    return query, ignored
