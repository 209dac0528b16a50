"""Isolated margin inside the state (spec/06-state.md, STATE-11 and STATE-12).

The numbers are worked by hand from the Binance BTCUSDT market of 2024-10-24 (linear, tick
0.1, lot 0.001; max leverage 125 below 50,000 of notional and 100 from there to 600,000, so
the initial margin is notional / 125, then notional / 100).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from liqspec.base.errors import EventRejectedError, Reason
from liqspec.engine.records import BadDebt, Deleveraged, MarginAdded, Record, Takeover
from liqspec.engine.scenarios import load_scenario, replay, scenario_from_document
from liqspec.engine.state import (
    AddMargin,
    Deposit,
    Fill,
    MarkUpdate,
    RemoveMargin,
    State,
    Withdrawal,
)
from liqspec.engine.transition import process_event
from liqspec.model.accounts import MarginMode, Side
from tests.data import ROOT

SCENARIO = ROOT / "spec" / "scenarios" / "isolated-loss-stays-in-the-unit.toml"
USDT = 10**8  # quantums per USDT
BTC_LOT = 1000  # lots per BTC


def _document(accounts: list[dict[str, Any]], **liquidation: str) -> dict[str, Any]:
    folder = ROOT / "spec" / "markets"
    return {
        "format": 1,
        "scenario": {"name": "isolated", "description": "isolated units",
                     "markets": [str(folder / "binance-btcusdt-2024-10-24.toml")]},
        "liquidation": {"BTCUSDT": {"policy": "health", "on_unfilled": "takeover", **liquidation}},
        "funds": {"USDT": "0"},
        "marks": {"BTCUSDT": "60000"},
        "books": {"BTCUSDT": {"bids": [], "asks": [["60010", "5"]]}},
        "accounts": accounts,
        "events": [],
    }  # fmt: skip


def _isolated(side: str, entry: str, margin: str) -> dict[str, str]:
    return {"market": "BTCUSDT", "side": side, "size": "1", "entry_price": entry,
            "margin_mode": "isolated", "isolated_margin": margin}  # fmt: skip


def _state(document: dict[str, Any]) -> State:
    return scenario_from_document(document, ROOT).state


def _mark(state: State, price: str) -> tuple[State, tuple[Record, ...]]:
    return process_event(state, MarkUpdate("BTCUSDT", int(price) * 10))


def test_the_bundled_scenario_liquidates_the_unit_and_spares_the_cross_wallet() -> None:
    steps = list(replay(load_scenario(SCENARIO)))
    final = steps[-1][1]
    # ivy: 5,000 cross; +100 into the unit, -50 back: the cross wallet is 4,950 from then on
    assert final.accounts["ivy"].balance == 4_950 * USDT
    records = [r for step, _ in steps for r in step.records]
    (takeover,) = [r for r in records if isinstance(r, Takeover)]
    # the unit's margin is 700 + 100 - 50 = 750: a 1 BTC long is bankrupt at 60,000 - 750
    assert (takeover.account, takeover.price) == ("ivy@BTCUSDT", 59_250 * 10)
    # at the mark 59,100 the fund's takeover loses 150: the fund pays its 50, judy's short 100
    assert takeover.fund_delta == -150 * USDT
    (adl,) = [r for r in records if isinstance(r, Deleveraged)]
    assert [(a.account, a.share) for a in adl.allocations] == [("judy", 100 * USDT)]
    assert final.accounts["ivy@BTCUSDT"].balance == 0  # fully covered: no bad debt
    # kate: 1,000 of margin, then an isolated 0.2 BTC fill at 59,100 (IM 94.56 <= 1,000)
    opened = next(state for step, state in steps if step.event == Fill(
        "kate", "BTCUSDT", Side.LONG, 200, 591_000, MarginMode.ISOLATED))  # fmt: skip
    assert opened.accounts["kate"].balance == 2_000 * USDT
    (position,) = opened.accounts["kate@BTCUSDT"].positions
    assert (position.size, position.margin_mode) == (200, MarginMode.ISOLATED)
    # closed at the same price, the margin waits in the unit until both removals take it back
    assert (final.accounts["kate"].balance, final.accounts["kate@BTCUSDT"].balance) == (
        3_000 * USDT, 0,
    )  # fmt: skip


def test_a_deficit_nobody_covers_stays_on_the_unit_as_bad_debt() -> None:
    # fund 0, socialization and no other holder: the 150 below bankruptcy is nobody's to pay
    document = _document(
        [{"id": "ivy", "asset": "USDT", "balance": "5000",
          "positions": [_isolated("long", "60000", "750")]}],
        deleveraging="socialize",
    )  # fmt: skip
    after, records = _mark(_state(document), "59100")
    assert [r.amount for r in records if isinstance(r, BadDebt)] == [150 * USDT]
    assert after.accounts["ivy@BTCUSDT"].balance == -150 * USDT
    assert after.accounts["ivy"].balance == 5_000 * USDT
    with pytest.raises(EventRejectedError) as rejected:  # debt cannot be moved to the wallet
        process_event(after, RemoveMargin("ivy", "BTCUSDT", 1))
    assert rejected.value.reason is Reason.INSUFFICIENT_MARGIN


def test_an_isolated_unit_in_profit_is_an_adl_counterparty_with_its_own_equity() -> None:
    document = _document(
        [{"id": "erin", "asset": "USDT", "balance": "750",
          "positions": [{"market": "BTCUSDT", "side": "long", "size": "1",
                         "entry_price": "60000"}]},
         {"id": "sam", "asset": "USDT", "balance": "100000",
          "positions": [_isolated("short", "61000", "2000")]}],
        deleveraging="adl",
    )  # fmt: skip
    after, records = _mark(_state(document), "59100")
    (adl,) = [r for r in records if isinstance(r, Deleveraged)]
    # sam's unit: PnL 61,000 - 59,100 = 1,900 on equity 2,000 + 1,900: score 1900/3900
    assert [(a.account, a.score) for a in adl.allocations] == [("sam@BTCUSDT", "19/39")]
    # the unit closes at the mark and pays the whole deficit of 150; sam's wallet is untouched
    assert after.accounts["sam@BTCUSDT"].balance == (2_000 + 1_900 - 150) * USDT
    assert after.accounts["sam"].balance == 100_000 * USDT


def test_margin_moves_check_the_giver_and_mark_who_acted() -> None:
    state = _state(_document([{"id": "ivy", "asset": "USDT", "balance": "1000"}]))
    state, (added,) = process_event(state, AddMargin("ivy", "BTCUSDT", 1_000 * USDT))
    assert added == MarginAdded("ivy", "BTCUSDT", 1_000 * USDT, 1_000 * USDT)
    # the giver acted (RISK-6), the receiver did not, as with a withdrawal and a deposit
    assert (state.accounts["ivy"].last_action, state.accounts["ivy@BTCUSDT"].last_action) == (0, -1)
    with pytest.raises(EventRejectedError) as rejected:  # the cross wallet is empty now
        process_event(state, AddMargin("ivy", "BTCUSDT", 1))
    assert rejected.value.reason is Reason.INSUFFICIENT_MARGIN
    # 1 BTC at 60,000 is in the second tier: IM 600. The unit may give back 400 and no more.
    state, _ = process_event(state, Fill("ivy", "BTCUSDT", Side.LONG, BTC_LOT, 600_000,
                                         MarginMode.ISOLATED))  # fmt: skip
    process_event(state, RemoveMargin("ivy", "BTCUSDT", 400 * USDT))
    with pytest.raises(EventRejectedError) as rejected:
        process_event(state, RemoveMargin("ivy", "BTCUSDT", 400 * USDT + 1))
    assert rejected.value.reason is Reason.INSUFFICIENT_MARGIN


def test_a_market_is_held_in_one_mode_at_a_time() -> None:
    state = _state(_document([{"id": "ivy", "asset": "USDT", "balance": "5000",
                               "positions": [_isolated("long", "60000", "750")]}]))  # fmt: skip
    with pytest.raises(EventRejectedError) as rejected:
        process_event(state, Fill("ivy", "BTCUSDT", Side.LONG, 1, 600_000))
    assert rejected.value.reason is Reason.MARGIN_MODE
    # closing the isolated position lifts the conflict; its margin stays in the unit
    state, _ = process_event(
        state, Fill("ivy", "BTCUSDT", Side.SHORT, BTC_LOT, 600_000, MarginMode.ISOLATED)
    )
    assert state.accounts["ivy@BTCUSDT"].balance == 750 * USDT
    state, _ = process_event(state, Fill("ivy", "BTCUSDT", Side.LONG, 1, 600_000))
    for event in (AddMargin("ivy", "BTCUSDT", 1),
                  Fill("ivy", "BTCUSDT", Side.LONG, 1, 600_000, MarginMode.ISOLATED)):  # fmt: skip
        with pytest.raises(EventRejectedError) as rejected:
            process_event(state, event)
        assert rejected.value.reason is Reason.MARGIN_MODE


@pytest.mark.parametrize(
    "event",
    [
        Deposit("ivy@BTCUSDT", "USDT", 1),
        Withdrawal("ivy@BTCUSDT", "USDT", 1),
        Fill("ivy@BTCUSDT", "BTCUSDT", Side.LONG, 1, 600_000),
        AddMargin("ivy@BTCUSDT", "BTCUSDT", 1),
        RemoveMargin("nobody", "BTCUSDT", 1),
    ],
    ids=["deposit", "withdraw", "fill", "add-margin", "remove-margin"],
)
def test_events_name_accounts_never_units(event: object) -> None:
    document = _document([{"id": "ivy", "asset": "USDT", "balance": "5000",
                           "positions": [_isolated("long", "60000", "750")]}])  # fmt: skip
    with pytest.raises(EventRejectedError) as rejected:
        process_event(_state(copy.deepcopy(document)), event)  # type: ignore[arg-type]
    assert rejected.value.reason is Reason.UNKNOWN_ACCOUNT
