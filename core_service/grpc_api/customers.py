"""CustomerService: the CRM SPI v2, authenticated per integration; proto <-> domain only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from core_service.domain.customer import Customer, CustomerInput, Origin, Purchase
from core_service.domain.errors import InvalidArgument, Unauthenticated, UnknownIntegration
from core_service.domain.integration import Integration
from core_service.domain.loyalty import Action, Item, Offer
from core_service.domain.loyalty_config import PROMOTION
from core_service.grpc_api.calls import caller_info, rpc
from core_service.metrics import CoreMetrics
from core_service.services.card_cache import served_from_cache
from core_service.services.customers import CustomerService
from core_service.services.deadline import Deadline
from core_service.services.integrations import IntegrationService
from sitoo_bloomreach.v1 import customers_pb2 as pb
from sitoo_bloomreach.v1 import customers_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]

# Issue 15: trailing metadata of an answer the card cache gave (Bloomreach failed); the edge
# turns it into its X-Sitoo-Bloomreach-Cache header (edge/spi_contract.py).
SERVED_FROM = "x-served-from"
CARD_AGE = "x-card-age-seconds"
# Why: "fallback" (Bloomreach failed) or "hedged" (Bloomreach had not answered in time).
CACHE_REASON = "x-card-cache-reason"


def _mark_cached(context: Context) -> None:
    hit = served_from_cache()
    if hit is not None:
        context.set_trailing_metadata(
            (
                (SERVED_FROM, "cache"),
                (CARD_AGE, str(int(hit.age_s))),
                (CACHE_REASON, "hedged" if hit.hedged else "fallback"),
            )
        )


# As the shared protos declare them (the edge derives its customer JSON from the same
# messages): the address's fields, and the plain-text ones the POS may write.
_ADDRESS_FIELDS = tuple(field.name for field in pb.Address.DESCRIPTOR.fields)
_SCALAR_FIELDS = tuple(
    field.name
    for field in pb.CustomerInput.DESCRIPTOR.fields
    if field.type == field.TYPE_STRING and not field.is_repeated
)


def customer_to_proto(customer: Customer) -> pb.Customer:
    fields = customer.fields
    message = pb.Customer(
        customer_id=customer.customer_id,
        accepts_communication=list(customer.accepts_communication),
        consents=list(customer.consents),
        voucher_passwords=list(customer.enrichment.voucher_passwords),
    )
    for name in _SCALAR_FIELDS:
        setattr(message, name, fields.get(name, ""))
    address = {name: fields.get(f"invoice_address.{name}", "") for name in _ADDRESS_FIELDS}
    if any(address.values()):
        message.invoice_address.CopyFrom(pb.Address(**address))
    for option_id, values in customer.additional_options:
        message.additional_options.add(id=option_id, enum_values=list(values))
    status = customer.enrichment.status
    if status.color or status.text:
        message.status.CopyFrom(pb.CustomerStatus(color=status.color, text=status.text))
    for offer in customer.offers:
        if offer.kind == PROMOTION:
            message.promotions.append(promotion_to_proto(offer))
        else:
            message.bonus_checks.append(bonus_check_to_proto(offer))
    for section in customer.enrichment.sections:
        message.sections.add(
            title=section.title,
            values=[pb.SectionValue(title=t, text=v, type="text") for t, v in section.values],
        )
    return message


def promotion_to_proto(offer: Offer) -> pb.Promotion:
    return pb.Promotion(
        name=offer.name,
        promotion_id=offer.offer_id,
        promotion_type=pb.PromotionType(type=offer.offer_type, value_int=offer.value_int),
        redeemed=offer.redeemed,
        valid_until=int(offer.valid_until or 0),
        value=offer.value,
        currency=offer.currency,
    )


def bonus_check_to_proto(offer: Offer) -> pb.BonusCheck:
    return pb.BonusCheck(
        bonus_check_id=offer.offer_id,
        name=offer.name,
        value=offer.money,
        redeemed=offer.redeemed,
        description=offer.description,
        valid_until=int(offer.valid_until or 0),
        currency=offer.currency,
    )


def items_from_proto(items: Sequence[pb.RedeemItem]) -> list[Item]:
    result: list[Item] = []
    for item in items:
        which = item.WhichOneof("item")
        if which == "promotion_id":
            result.append(Item("promotion", item.promotion_id))
        elif which == "bonus_check_id":
            result.append(Item("bonus_check", item.bonus_check_id))
        else:
            raise InvalidArgument("items: each item needs a promotion_id or a bonus_check_id")
    return result


def input_from_proto(message: pb.CustomerInput) -> CustomerInput:
    data = CustomerInput()
    for name in _SCALAR_FIELDS:
        if message.HasField(name):  # type: ignore[arg-type]  # names from _SCALAR_FIELDS
            data.fields[name] = getattr(message, name)
    if message.HasField("invoice_address"):
        # The address is written as a whole: each sub-field the POS sent (empty clears it).
        for name in _ADDRESS_FIELDS:
            data.fields[f"invoice_address.{name}"] = getattr(message.invoice_address, name)
    if message.set_accepts_communication:
        data.accepts_communication = list(message.accepts_communication)
    if message.set_consents:
        data.consents = list(message.consents)
    if message.set_additional_options:
        data.additional_options = [(o.id, tuple(o.enum_values)) for o in message.additional_options]
    return data


def purchase_to_proto(purchase: Purchase) -> pb.Purchase:
    return pb.Purchase(
        purchase_id=purchase.purchase_id,
        purchase_status=purchase.purchase_status,
        timestamp=purchase.timestamp,
        total_price=purchase.total_price,
        total_price_without_tax=purchase.total_price_without_tax,
        currency=purchase.currency,
        store_id=purchase.store_id,
        store_name=purchase.store_name,
        original_purchase_id=purchase.original_purchase_id,
        items=[
            pb.PurchaseItem(sku=i.sku, name=i.name, quantity=i.quantity, total_price=i.total_price)
            for i in purchase.items
        ],
    )


class CustomerServicer(customers_pb2_grpc.CustomerServiceServicer):
    def __init__(
        self, integrations: IntegrationService, customers: CustomerService, metrics: CoreMetrics
    ) -> None:
        self._integrations = integrations
        self._customers = customers
        self._metrics = metrics

    async def _authenticate(self, integration: str, context: Context) -> Integration:
        caller = caller_info(context)
        try:
            return await self._integrations.authenticate(
                integration, "spi", caller.sitoo_authorization
            )
        except Unauthenticated as exc:
            label = "_unknown_" if isinstance(exc, UnknownIntegration) else integration
            self._metrics.sitoo_auth_failures.labels(label, "spi").inc()
            raise

    @staticmethod
    def _deadline(context: Context) -> Deadline:
        return Deadline.after(context.time_remaining())

    @staticmethod
    def _origin(context: Context) -> Origin:
        caller = caller_info(context)
        return Origin(caller.store_id, caller.staff_id, caller.register_id)

    @rpc
    async def SearchCustomers(
        self, request: pb.SearchCustomersRequest, context: Context
    ) -> pb.SearchCustomersResponse:
        integration = await self._authenticate(request.integration, context)
        found = await self._customers.search(
            integration, request.key_type, request.key, self._deadline(context)
        )
        _mark_cached(context)
        return pb.SearchCustomersResponse(customers=[customer_to_proto(c) for c in found])

    @rpc
    async def GetCustomer(self, request: pb.GetCustomerRequest, context: Context) -> pb.Customer:
        integration = await self._authenticate(request.integration, context)
        customer = await self._customers.get(
            integration, request.customer_id, self._deadline(context)
        )
        _mark_cached(context)
        return customer_to_proto(customer)

    @rpc
    async def CreateCustomer(
        self, request: pb.CreateCustomerRequest, context: Context
    ) -> pb.Customer:
        integration = await self._authenticate(request.integration, context)
        customer = await self._customers.create(
            integration,
            input_from_proto(request.customer),
            self._origin(context),
            self._deadline(context),
        )
        return customer_to_proto(customer)

    @rpc
    async def UpdateCustomer(
        self, request: pb.UpdateCustomerRequest, context: Context
    ) -> pb.Customer:
        integration = await self._authenticate(request.integration, context)
        customer = await self._customers.update(
            integration,
            request.customer_id,
            input_from_proto(request.customer),
            self._origin(context),
            self._deadline(context),
        )
        return customer_to_proto(customer)

    @rpc
    async def LookupCustomer(
        self, request: pb.LookupCustomerRequest, context: Context
    ) -> pb.LookupCustomerResponse:
        integration = await self._authenticate(request.integration, context)
        found = await self._customers.lookup(
            integration, request.key_type, request.key, self._deadline(context)
        )
        _mark_cached(context)
        return pb.LookupCustomerResponse(customers=[customer_to_proto(c) for c in found])

    @rpc
    async def ListConsents(
        self, request: pb.ListConsentsRequest, context: Context
    ) -> pb.ListConsentsResponse:
        integration = await self._authenticate(request.integration, context)
        return pb.ListConsentsResponse(
            consents=[
                pb.ConsentDefinition(
                    consent_id=c.consent_id,
                    name=c.label or c.consent_id,
                    description=c.description,
                    default_value=c.default_value,
                )
                for c in self._customers.consent_types(integration)
            ]
        )

    @rpc
    async def GetPurchaseHistory(
        self, request: pb.GetPurchaseHistoryRequest, context: Context
    ) -> pb.GetPurchaseHistoryResponse:
        integration = await self._authenticate(request.integration, context)
        purchases = await self._customers.purchase_history(
            integration, request.customer_id, request.limit, self._deadline(context)
        )
        return pb.GetPurchaseHistoryResponse(purchases=[purchase_to_proto(p) for p in purchases])

    @rpc
    async def Redeem(self, request: pb.RedeemRequest, context: Context) -> pb.RedeemResponse:
        return await self._redeem(request, context, "redeem")

    @rpc
    async def UndoRedeem(self, request: pb.RedeemRequest, context: Context) -> pb.RedeemResponse:
        return await self._redeem(request, context, "undo")

    async def _redeem(
        self, request: pb.RedeemRequest, context: Context, action: Action
    ) -> pb.RedeemResponse:
        integration = await self._authenticate(request.integration, context)
        customer = await self._customers.redeem(
            integration,
            request.customer_id,
            items=items_from_proto(request.items),
            action=action,
            origin=self._origin(context),
            deadline=self._deadline(context),
        )
        return pb.RedeemResponse(customer=customer_to_proto(customer))
