"""The product guide's step 7, "Validate the setup", against the integration's real endpoints.

Every check is a function returning a :class:`Check` (passed, detail, remedy in plain words:
which setting, which permission). Nothing is assumed: permissions are probed with real calls.

- Reads (mapped properties, ids, consents, purchase events) are probed on a customer that does
  not exist: Bloomreach answers each attribute with a value or "No permission", and checks the
  events permission before it looks the customer up. Nothing is written.
- Writes (customer properties, ``purchase``, ``purchase_item``, ``consent`` events) can only be
  probed by writing. They run on a clearly marked test customer
  (``sitoo-bloomreach-validation-<nonce>@example.com``) that the round trip creates through the
  same ``CustomerService`` the CRM SPI uses, and that is anonymized at the end, whatever failed.
- The test order travels through the real outbox and a real relay: a message with prepared
  commands (built by the order path's own ``build_purchase`` from a synthetic POS sale, with a
  marked ``purchase_id``) is enqueued; a relay sends it as it sends any prepared message, with
  no Sitoo fetch (so a real Sitoo account never gets test orders); then the ``purchase`` event is
  looked up in Bloomreach.
"""

from core_service.services.validation.service import ValidationService

__all__ = ["ValidationService"]
