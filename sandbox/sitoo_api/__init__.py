"""A faithful emulator of the Sitoo REST API v2 order endpoints (spec §10.2).

Public API: :func:`create_app`, :class:`SitooApiConfig`, :class:`SitooAccount`, :data:`ROUTES`
(route name → method and path; faults target these names); order body builders live in
:mod:`sandbox.sitoo_api.orders`, the sandbox helpers in :mod:`sandbox.sitoo_api.sandbox_routes`
and the CLI in :mod:`sandbox.sitoo_api.__main__`.

Where the spec says [inferred], the stricter choice is taken:

* a path without ``.json``, an unknown order / site, and any unsupported method (``DELETE``) →
  ``404`` with ``{"statuscode", "errortext"}``; ``errortext`` wording is our own;
* ``POST …/orders.json`` answers the bare integer order id; ``PUT`` and
  ``POST …/orderlogitems.json`` answer ``true``;
* ``num`` above ``max_num`` (default 1000) or negative → ``400``; unknown ``fields`` names →
  ``400``; bad filter values (non-integers, undocumented state codes) → ``400``; unknown query
  parameters are ignored as Sitoo does, but counted in ``/_sandbox/stats``;
* ``orderdatefrom`` inclusive, ``orderdateto`` exclusive (like ``orderidfrom`` / ``orderidto``);
  ``email`` matches the whole address ignoring case;
* write bodies: money / decimal values must be strings, unknown and read-only fields are
  refused, ``ordertypeid`` ∈ {10, 100, 110}, ``externalid`` unique, a refund's
  ``creditorderid`` must exist and its quantities be negative, quantity ``0`` is refused;
* ``orderitemid`` is 0, 1, … within each order (as in Sitoo's published ``getOrder`` example);
* what is served validates against Sitoo's published order schema (``schema/``): no ``null``,
  Sitoo's defaults for what the POS left unset, fields the example shows as ``null`` left out;
* a line's ``moneyrowprice`` is gross and *before* ``moneyrowdiscount`` (the published example);
* ``receiptid`` matches ``additionaldata["pos-receiptid"]`` or register serial + receipt number
  from a type-999 log item;
* ``429`` carries ``Retry-After: 1`` (one-second windows per client IP);
* eventual consistency is counted, not timed: ``not_found_reads`` GETs of a new order → ``404``.
"""

from sandbox.sitoo_api.app import create_app
from sandbox.sitoo_api.config import SitooAccount, SitooApiConfig
from sandbox.sitoo_api.handlers import ROUTES

__all__ = ["ROUTES", "SitooAccount", "SitooApiConfig", "create_app"]
