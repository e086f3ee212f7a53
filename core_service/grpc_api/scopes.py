"""Which scope each RPC of the core needs. Fail closed: a method of ours missing here is
refused for everyone (a unit test checks every method of every service is listed)."""

from __future__ import annotations

from core_service.domain.api_clients import ADMIN, CUSTOMERS_READ, CUSTOMERS_WRITE, ORDERS_INGEST
from sitoo_bloomreach.v1 import admin_pb2, customers_pb2, order_events_pb2

OUR_PREFIX = "/sitoo_bloomreach."
# Open to anyone, for probes.
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)

_CUSTOMERS = customers_pb2.DESCRIPTOR.services_by_name["CustomerService"]
_ORDER_EVENTS = order_events_pb2.DESCRIPTOR.services_by_name["OrderEventService"]
_ADMIN = admin_pb2.DESCRIPTOR.services_by_name["AdminService"]

_CUSTOMER_SCOPES = {
    "SearchCustomers": CUSTOMERS_READ,
    "GetCustomer": CUSTOMERS_READ,
    "LookupCustomer": CUSTOMERS_READ,
    "ListConsents": CUSTOMERS_READ,
    "GetPurchaseHistory": CUSTOMERS_READ,
    "CreateCustomer": CUSTOMERS_WRITE,
    "UpdateCustomer": CUSTOMERS_WRITE,
    "Redeem": CUSTOMERS_WRITE,
    "UndoRedeem": CUSTOMERS_WRITE,
}

METHOD_SCOPES: dict[str, str] = {
    **{f"/{_CUSTOMERS.full_name}/{name}": scope for name, scope in _CUSTOMER_SCOPES.items()},
    **{f"/{_ORDER_EVENTS.full_name}/{m.name}": ORDERS_INGEST for m in _ORDER_EVENTS.methods},
    **{f"/{_ADMIN.full_name}/{m.name}": ADMIN for m in _ADMIN.methods},
}


def required_scope(method: str) -> str | None:
    """The scope ``method`` needs; None = any authenticated client (reflection and other
    standard services). Raises KeyError for a method of ours that is not listed."""
    if method.startswith(OUR_PREFIX):
        return METHOD_SCOPES[method]
    return None
