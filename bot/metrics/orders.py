"""Trade Assurance orders due to ship: within the store's `ship_soon_days`, or overdue.

An order is still to ship when it has a ship-by date, no shipped time and a status that is
not finished, closed, cancelled or already shipped (API statuses like TRADE_FINISHED,
TRADE_CLOSED, WAIT_BUYER_CONFIRM_GOODS, and their Chinese counterparts), nor still waiting
for the buyer to pay (WAIT_BUYER_PAY, Unpaid, Awaiting payment, 待付款, 等待买家付款...): an
unpaid order is not due to ship. Waiting for the *balance* (WAIT_BUYER_PAY_BALANCE, 待付尾款)
still counts as to ship: the deposit was paid and the ship-by clock runs from it.

The status column (`订单状态`, `状态`, `Status`, `trade_status`, see bot/ingest/kinds.py)
carries the API codes of the Trade Assurance export, the English labels of the back office or their
Chinese ones; the words below are matched case-folded, anywhere in the status.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, select

from bot.metrics.money import currency_of
from bot.models import facts
from bot.stores import Store

SHOWN = 5
# Substrings of a status (case-folded) that mean there is nothing left to ship.
DONE_STATUSES = ("finish", "close", "cancel", "complete", "shipped", "confirm_goods",
                 "refund", "完成", "关闭", "取消", "已发货", "收货", "退款")

# ... that mean the buyer has not paid yet (so the order is not due to ship either).
UNPAID_STATUSES = ("wait_buyer_pay", "unpaid", "not paid", "awaiting payment",
                   "awaiting buyer payment", "pending payment", "waiting for payment",
                   "waiting for buyer payment", "待付款", "待支付", "未付款", "未支付",
                   "等待买家付款", "等待买家支付", "等待付款", "等待支付")
# ... that mean only the balance is unpaid: the deposit was paid, the order is to ship.
BALANCE_STATUSES = ("balance", "尾款", "余款")

orders = facts["orders"]


def still_to_ship(status: str | None) -> bool:
    folded = (status or "").casefold()
    if any(word in folded for word in DONE_STATUSES):
        return False
    unpaid = any(word in folded for word in UNPAID_STATUSES)
    return not unpaid or any(word in folded for word in BALANCE_STATUSES)


def due_orders(conn: Connection, store: Store, today: date) -> dict[str, Any]:
    """Orders to ship by today + ship_soon_days (overdue included), soonest first."""
    horizon = today + timedelta(days=store.setting("ship_soon_days"))
    rows = conn.execute(
        select(orders).where(
            orders.c.store_id == store.id, orders.c.ship_by.is_not(None),
            orders.c.ship_by <= horizon, orders.c.shipped_at.is_(None),
        ).order_by(orders.c.ship_by, orders.c.order_id)
    ).all()
    due = [r for r in rows if still_to_ship(r.status)]
    return {
        "ship_soon_days": store.setting("ship_soon_days"),
        "due_count": sum(1 for r in due if r.ship_by >= today),
        "overdue_count": sum(1 for r in due if r.ship_by < today),
        "orders": [
            {"order_id": r.order_id, "buyer": r.buyer or r.company, "country": r.country,
             "ship_by": r.ship_by.isoformat(), "days_left": (r.ship_by - today).days,
             "amount": r.amount, "currency": currency_of(r, "amount", "orders"),
             "status": r.status}
            for r in due[:SHOWN]
        ],
    }
