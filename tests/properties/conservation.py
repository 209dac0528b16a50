"""Conservation of value per asset across one engine event (spec/08-insurance.md).

Shared by the engine state machine and the stress tests: every event moves value only by
deposits, withdrawals and fills against parties outside the state (the book, a fill event),
each measured at the mark after the event, and the liquidator fees paid to those parties.
"""

from __future__ import annotations

from collections import defaultdict

import attrs

from liqspec import ContractKind, Market, get_value
from liqspec.engine.records import LiquidationFees, LiquidationStep, Record
from liqspec.engine.state import Deposit, Event, Fill, State, Withdrawal, get_isolated_id, get_unit
from liqspec.model.accounts import MarginMode
from liqspec.model.margin import get_equity


def signed_value(market: Market, signed_size: int, price: int) -> int:
    size = abs(signed_size)
    value = get_value(market, size, price)
    return value if signed_size >= 0 else -value


def external_delta(market: Market, before: int, after: int, price: int, mark: int) -> int:
    """Value a fill at ``price`` brings in from outside, measured at ``mark`` (spec 8)."""
    direction = 1 if market.contract is ContractKind.LINEAR else -1
    at_mark = signed_value(market, after, mark) - signed_value(market, before, mark)
    at_price = signed_value(market, after, price) - signed_value(market, before, price)
    return direction * (at_mark - at_price)


def value_by_asset(state: State) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for account in state.accounts.values():
        totals[account.asset] += get_equity(get_unit(state, account))
    for fund, balance in state.funds.items():
        totals[fund] += balance
    return dict(totals)


def signed_positions(state: State) -> dict[tuple[str, str], int]:
    return {
        (account.id, p.market): int(p.side) * p.size
        for account in state.accounts.values()
        for p in account.positions
    }


def check_conservation(
    before: State, after: State, event: Event, records: tuple[Record, ...]
) -> None:
    """Value per asset changes only by deposits, withdrawals and fills with outside parties."""
    marks = {s: attrs.evolve(m, mark=after.markets[s].mark) for s, m in before.markets.items()}
    expected = value_by_asset(attrs.evolve(before, markets=marks))
    for asset in {a.asset for a in after.accounts.values()} | set(after.funds):
        expected.setdefault(asset, 0)
    if isinstance(event, Deposit):
        expected[event.asset] += event.amount
    if isinstance(event, Withdrawal):
        expected[event.asset] -= event.amount
    if isinstance(event, Fill):
        market = before.markets[event.market].market
        isolated = event.margin is MarginMode.ISOLATED
        unit_id = get_isolated_id(event.account, event.market) if isolated else event.account
        held = signed_positions(before).get((unit_id, event.market), 0)
        moved = held + int(event.side) * event.size
        mark = after.markets[event.market].mark
        expected[market.settle_asset] += external_delta(market, held, moved, event.price, mark)
    for record in records:
        if isinstance(record, LiquidationStep):
            market = after.markets[record.market].market
            held, sign = record.position_before, (-1 if record.position_before > 0 else 1)
            mark = after.markets[record.market].mark
            for price, lots in record.levels:
                moved = held + sign * lots
                delta = external_delta(market, held, moved, price, mark)
                expected[market.settle_asset] += delta
                held = moved
        if isinstance(record, LiquidationFees):  # paid to the fills' counterparties (LIQ-12)
            expected[after.markets[record.market].market.settle_asset] -= record.liquidator_fee
    actual = value_by_asset(after)
    for asset, value in expected.items():
        assert actual.get(asset, 0) == value, (asset, actual.get(asset, 0), value)
