from __future__ import annotations

from typing import get_args

import pytest

from wafa.ingest import FORMATS, GENERIC, SHOPIFY, WOOCOMMERCE
from wafa.ingest.describe import Column, OrderFormat, RefundMeaning, Role, Status
from wafa.ingest.pairs import item_list, split_pairs
from wafa.ingest.values import CellProblem
from wafa.orders.models import OrderStatus


class TestStatuses:
    def test_the_formats_speak_in_the_order_statuses(self) -> None:
        assert set(get_args(Status)) == {s.value for s in OrderStatus}

    def test_a_voided_shopify_payment_cancels_the_order(self) -> None:
        vocabulary = SHOPIFY.vocabulary(Role.financial_status)
        assert vocabulary is not None
        word = vocabulary.meaning(" Voided ", "Financial Status")
        assert word is not None and word.status == "cancelled"

    def test_woocommerce_drops_the_wc_prefix_and_refuses_unknown_words(self) -> None:
        vocabulary = WOOCOMMERCE.vocabulary(Role.status)
        assert vocabulary is not None
        word = vocabulary.meaning("wc-refunded", "status")
        assert word is not None and (word.status, word.refund) == ("paid", RefundMeaning.whole)
        with pytest.raises(CellProblem, match="unknown status 'shipped'"):
            vocabulary.meaning("wc-shipped", "status")

    def test_shopify_fulfilment_words_it_does_not_list_say_nothing(self) -> None:
        vocabulary = SHOPIFY.vocabulary(Role.fulfillment_status)
        assert vocabulary is not None
        assert vocabulary.meaning("on_hold", "Fulfillment Status") is None

    def test_a_generic_blank_status_is_placed(self) -> None:
        vocabulary = GENERIC.vocabulary(Role.status)
        assert vocabulary is not None
        assert vocabulary.meaning("  ", "status") == vocabulary.blank


class TestDescriptions:
    @pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=list(FORMATS))
    def test_every_format_can_be_imported_and_analysed(self, fmt: OrderFormat) -> None:
        assert fmt.column(Role.order_key) is not None and fmt.column(Role.placed_at) is not None
        assert fmt.customer and all(fmt.column(role) for role in fmt.customer)
        assert all(fmt.column(role) for role in fmt.line_roles)
        assert fmt.column(Role.total) is not None

    def test_a_role_described_twice_is_refused(self) -> None:
        with pytest.raises(ValueError, match="roles described twice"):
            OrderFormat(
                name="x",
                title="x",
                columns=(Column(Role.total, ("a",)), Column(Role.total, ("b",))),
                required=(),
                line_roles=(),
                statuses=(),
                refunds=SHOPIFY.refunds,
                customer=(),
            )

    def test_a_column_both_read_and_ignored_is_refused(self) -> None:
        with pytest.raises(ValueError, match="both read and ignored"):
            OrderFormat(
                name="x",
                title="x",
                columns=(Column(Role.total, ("Total",)),),
                required=(),
                line_roles=(),
                statuses=(),
                refunds=SHOPIFY.refunds,
                customer=(),
                ignored=("total",),
            )


class TestPairs:
    def test_a_separator_inside_a_value_is_kept(self) -> None:
        assert split_pairs("name:Tea|Cake|sku:T-1") == {"name": "Tea|Cake", "sku": "T-1"}

    def test_items_of_a_list(self) -> None:
        assert item_list("amount:5.00|reason:Late;;amount:1.00") == [
            {"amount": "5.00", "reason": "Late"},
            {"amount": "1.00"},
        ]
