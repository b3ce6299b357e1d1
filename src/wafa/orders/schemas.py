"""Order, product, location and refund shapes. Money is integer minor units in JSON."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from wafa.core.money import is_currency
from wafa.core.validation import Instant, OptionalPersonName, refuse
from wafa.orders.models import Channel, LocationKind, OrderStatus

Str64 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Str200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Str300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
#: The largest amount in minor units an input may carry, alone or as a line's or order's
#: total (10^15 cents: ten trillion in a currency's units; sums stay far below 2^63).
MAX_AMOUNT = 10**15
Amount = Annotated[int, Field(ge=0, le=MAX_AMOUNT, description="Minor units (cents).")]


def _currency(value: str) -> str:
    code = value.strip().upper()
    if not is_currency(code):
        raise ValueError(f"unknown ISO 4217 currency {value!r}")
    return code


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Str64
    name: Str300
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = None
    price: Amount = 0
    currency: str | None = Field(default=None, description="Defaults to the business currency.")
    repeatable: bool = True
    active: bool = True

    _c = field_validator("currency")(lambda cls, v: None if v is None else _currency(v))


class ProductUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Str300 | None = None
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = None
    price: Amount | None = None
    repeatable: bool | None = None
    active: bool | None = None


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sku: str
    name: str
    category: str | None
    price: int = Field(validation_alias="price_amount")
    currency: str
    repeatable: bool
    active: bool


class ProductPage(BaseModel):
    items: list[ProductRead]
    next_cursor: str | None


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Str64
    name: Str200
    kind: LocationKind
    address: Annotated[str, StringConstraints(max_length=1000)] | None = None


class LocationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    kind: str
    address: str | None


class ContactIn(BaseModel):
    """Who placed the order; any of these may be missing (a guest has none)."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    name: OptionalPersonName = None
    external_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = (
        None
    )
    city: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = None
    accepts_email_marketing: bool | None = None
    accepts_sms_marketing: bool | None = None


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Str64 | None = None
    name: Str300
    quantity: int = Field(gt=0, le=1_000_000)
    unit_price: Amount
    discount: Amount = 0
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = None

    @model_validator(mode="after")
    def _total_is_bounded(self) -> LineIn:
        if self.quantity * self.unit_price > MAX_AMOUNT:
            raise refuse(
                "LineIn",
                [
                    (
                        ("unit_price",),
                        "amount_range",
                        f"quantity × unit_price must be at most {MAX_AMOUNT}",
                    )
                ],
            )
        return self


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Str64
    external_id: Str200
    number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    channel: Channel
    location: Str64 | None = Field(default=None, description="Code of a location.")
    status: OrderStatus = OrderStatus.placed
    placed_at: Instant
    paid_at: Instant | None = None
    fulfilled_at: Instant | None = None
    delivered_at: Instant | None = None
    promised_at: Instant | None = Field(default=None, description="Promised delivery time.")
    currency: str
    customer: ContactIn | None = None
    lines: list[LineIn] = Field(min_length=1, max_length=1000)
    discount: Amount = Field(default=0, description="Order-level discount, minor units.")
    shipping: Amount = 0
    tax: Amount = 0
    shipping_address: Annotated[str, StringConstraints(max_length=2000)] | None = None
    coupon_codes: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=list
    )
    attributes: dict[str, Any] = Field(default_factory=dict)

    _c = field_validator("currency")(lambda cls, v: _currency(v))

    @model_validator(mode="after")
    def _total_is_bounded(self) -> OrderCreate:
        total = sum(line.quantity * line.unit_price for line in self.lines)
        if total + self.shipping + self.tax > MAX_AMOUNT:
            raise refuse(
                "OrderCreate",
                [(("lines",), "amount_range", f"the order's total must be at most {MAX_AMOUNT}")],
            )
        return self

    @model_validator(mode="after")
    def _status_is_initial(self) -> OrderCreate:
        if self.status in (OrderStatus.refunded, OrderStatus.partially_refunded):
            raise ValueError("refunds are recorded with POST /orders/{id}/refunds, not as a status")
        return self


class OrderLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    line_no: int
    product_id: uuid.UUID | None
    sku: str | None
    name: str
    category: str | None
    quantity: int
    unit_price: int = Field(validation_alias="unit_price_amount")
    discount: int = Field(validation_alias="discount_amount")
    total: int = Field(validation_alias="total_amount")
    refunded_quantity: int


class RefundLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_line_id: uuid.UUID
    quantity: int
    amount: int


class RefundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    order_id: uuid.UUID
    external_id: str
    amount: int
    currency: str
    reason: str | None
    refunded_at: datetime
    lines: list[RefundLineRead]


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    source: str
    external_id: str
    number: str | None
    channel: str
    location_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    status: str
    currency: str
    subtotal: int = Field(validation_alias="subtotal_amount")
    discount: int = Field(validation_alias="discount_amount")
    shipping: int = Field(validation_alias="shipping_amount")
    tax: int = Field(validation_alias="tax_amount")
    total: int = Field(validation_alias="total_amount")
    refunded: int = Field(validation_alias="refunded_amount")
    placed_at: datetime
    paid_at: datetime | None
    fulfilled_at: datetime | None
    delivered_at: datetime | None
    promised_at: datetime | None
    cancelled_at: datetime | None
    coupon_codes: list[str]
    lines: list[OrderLineRead]
    refunds: list[RefundRead]


class OrderSummaryRead(BaseModel):
    """An order without its lines, for lists."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    source: str
    external_id: str
    number: str | None
    channel: str
    customer_id: uuid.UUID | None
    status: str
    currency: str
    total: int = Field(validation_alias="total_amount")
    refunded: int = Field(validation_alias="refunded_amount")
    placed_at: datetime


class OrderPage(BaseModel):
    items: list[OrderSummaryRead]
    next_cursor: str | None


class RefundLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: uuid.UUID | None = Field(default=None, description="Order line id.")
    sku: Str64 | None = Field(default=None, description="Or the line's sku.")
    quantity: int = Field(gt=0)

    @model_validator(mode="after")
    def _one_key(self) -> RefundLineIn:
        if (self.line_id is None) == (self.sku is None):
            raise ValueError("give exactly one of line_id or sku")
        return self


class RefundCreate(BaseModel):
    """A refund. Lines refund those items; an amount alone refunds money; neither refunds all."""

    model_config = ConfigDict(extra="forbid")

    external_id: Str200 = Field(description="The refund's id in the shop: the idempotency key.")
    amount: Annotated[int, Field(gt=0, le=10**15)] | None = None
    lines: list[RefundLineIn] = Field(default_factory=list)
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None
    refunded_at: Instant | None = None


class OrderStatusUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: OrderStatus
    at: Instant | None = None


class LateOrderRead(BaseModel):
    """An order that broke its promise."""

    order: OrderRead
    which: Literal["overdue", "delivered_late"]
    hours_late: float = Field(description="Hours after the promise it was delivered, or until now.")


class LateOrderPage(BaseModel):
    """A page of late orders (overdue first, the longest waiting first) and their count."""

    items: list[LateOrderRead]
    total: int


class OnTimeRate(BaseModel):
    """On-time delivery of one group."""

    key: str = Field(
        description="The channel, the location's name, or the month (YYYY-MM in the business calendar)."
    )
    delivered: int = Field(description="Delivered orders that carried a promise.")
    on_time: int = Field(description="Of those, delivered at or before the promise.")
    overdue: int = Field(description="Promise passed, not delivered yet (not rated).")
    rate: float | None = Field(description="on_time / delivered; null when nothing was delivered.")
