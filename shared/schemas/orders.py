"""`ew.orders`: the supplier's own orders per customer (recency, frequency, value, product lines)."""

from __future__ import annotations

from pydantic import Field

from shared.company_id import CompanyId
from shared.schemas._base import EwModel, NonNegativeMoney, UtcDatetime, examples

__all__ = ["Order"]


class Order(EwModel):
    """One order; `(company_id, order_id)` identifies it."""

    model_config = examples(
        {
            "company_id": "BE0403170701",
            "order_id": "SO-2025-004211",
            "ordered_at": "2025-10-07T13:45:00Z",
            "amount_eur": 12480.75,
            "product_line": "packaging",
        }
    )

    company_id: CompanyId = Field(description="The customer.")
    order_id: str = Field(min_length=1, max_length=100, description="The supplier's order number.")
    ordered_at: UtcDatetime = Field(description="When the order was placed.")
    amount_eur: NonNegativeMoney = Field(description="Order value, in euro.")
    product_line: str = Field(min_length=1, max_length=100, description="Product line, for share of wallet.")
