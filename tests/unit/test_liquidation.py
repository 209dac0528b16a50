"""Policies, limits and fallbacks of the liquidation procedure (spec/07, spec/08)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, TypeVar

import attrs
import pytest

from liqspec import Ratio, Side, get_equity, get_maintenance_requirement, get_value, load_market
from liqspec.base.errors import EventRejectedError, Reason
from liqspec.engine.execution import (
    get_bankruptcy_quote,
    get_closed_account,
    get_exit_threshold,
    get_target_size,
    is_acceptable,
)
from liqspec.engine.insurance import get_adl_ranking, get_fund_peak, set_fund
from liqspec.engine.records import (
    BadDebt,
    Deleveraged,
    LiquidationStep,
    LiquidationWaiting,
    Record,
    Takeover,
)
from liqspec.engine.state import (
    AccountState,
    Book,
    BookUpdate,
    Clock,
    Deposit,
    Fill,
    Level,
    MarketState,
    MarkUpdate,
    State,
    Withdrawal,
    apply_fill,
    get_unit,
)
from liqspec.engine.transition import apply_event, process_event
from liqspec.model.markets import Deleveraging, Market, OnUnfilled, Policy
from tests.data import MARKETS

R = TypeVar("R")
BINANCE = load_market(MARKETS / "binance-btcusdt-2024-10-24.toml")
USDT = 10**8  # quantums per USDT


def px(price: str) -> int:
    """A BTCUSDT price in ticks of 0.1."""
    return int(Fraction(price) * 10)


def lots(btc: str) -> int:
    """A BTCUSDT size in lots of 0.001 BTC."""
    return int(Fraction(btc) * 1000)


def market(**params: Any) -> Market:
    return attrs.evolve(BINANCE, liquidation=attrs.evolve(BINANCE.liquidation, **params))


def state_with(
    m: Market,
    mark: str,
    accounts: dict[str, tuple[str, list[tuple[Side, str, str]]]],
    bids: list[tuple[str, str]] = (),  # type: ignore[assignment]
    fund: str = "0",
) -> State:
    """Accounts by id: (balance, [(side, size, entry)]); a book of bids and one far ask."""
    book = Book(tuple(Level(px(p), lots(q)) for p, q in bids), (Level(px("99999"), 1),))
    built = {}
    for name, (balance, positions) in accounts.items():
        account = AccountState(name, "USDT", int(Fraction(balance) * USDT))
        for side, size, entry in positions:
            account = apply_fill(account, m, int(side) * lots(size), px(entry))
            account = attrs.evolve(account, balance=int(Fraction(balance) * USDT))
        built[name] = account
    return State(
        0, {m.symbol: MarketState(m, px(mark), book)}, built, {"USDT": int(Fraction(fund) * USDT)}
    )


def of(records: tuple[Record, ...], kind: type[R]) -> list[R]:
    return [r for r in records if isinstance(r, kind)]


LONG_1_BTC = {"alice": ("1000", [(Side.LONG, "1", "60000")])}
DEEP_BIDS = [("59190", "0.3"), ("59150", "0.5"), ("59000", "2")]


# --- policies ----------------------------------------------------------------------------------


def test_health_target_is_the_smallest_that_restores() -> None:
    m = market(policy=Policy.HEALTH)
    state = state_with(m, "59230", LONG_1_BTC, DEEP_BIDS)
    account = state.accounts["alice"]
    impact = px("56268.5")
    target = get_target_size(state, account, 0, impact)

    def restores(n: int) -> bool:
        # walk the bids for n lots, as LIQ-4 says, and compare with the exit threshold
        fills, left = [], n
        for level in state.markets["BTCUSDT"].book.bids:
            take = min(level.size, left)
            if take:
                fills.append((level.price, take))
            left -= take
        closed = attrs.evolve(account, balance=account.balance)

        after = get_unit(state, get_closed_account(state, closed, 0, tuple(fills)))
        value = sum(get_value(m, q, p) for p, q in fills)
        fee = m.liquidation.fee.apply_up(value)
        return get_equity(after) - fee >= get_exit_threshold(after)

    assert restores(target)
    assert not restores(target - 1)


def test_tier_step_drops_exactly_below_the_tier_floor() -> None:
    m = market(policy=Policy.TIER_STEP)
    state = state_with(m, "60000", {"bob": ("20000", [(Side.LONG, "12", "60000")])})
    target = get_target_size(state, state.accounts["bob"], 0, px("57000"))
    floor = m.tiers[2].floor  # 720,000 USDT notional is in tier 3 (600k..3M)
    assert get_value(m, lots("12") - target, px("60000")) < floor
    assert get_value(m, lots("12") - target + 1, px("60000")) >= floor


def test_tier_step_in_the_first_tier_closes_everything() -> None:
    m = market(policy=Policy.TIER_STEP)
    state = state_with(m, "60000", {"bob": ("100", [(Side.LONG, "0.5", "60000")])})
    assert get_target_size(state, state.accounts["bob"], 0, px("57000")) == lots("0.5")


def test_chunk_is_a_fraction_rounded_up() -> None:
    m = market(policy=Policy.CHUNK, chunk=Ratio.of(1, 3))
    state = state_with(m, "60000", {"bob": ("100", [(Side.LONG, "1", "60000")])})
    assert get_target_size(state, state.accounts["bob"], 0, px("57000")) == 334  # ceil(1000 / 3)


def test_step_cap_and_dust() -> None:
    capped = market(policy=Policy.CHUNK, chunk=Ratio(1, 1), max_step_notional=6_000 * USDT)
    state = state_with(capped, "60000", {"bob": ("100", [(Side.LONG, "1", "60000")])})
    assert get_target_size(state, state.accounts["bob"], 0, px("57000")) == lots("0.1")
    dusty = market(policy=Policy.CHUNK, chunk=Ratio.of(9, 10), dust_notional=7_000 * USDT)
    state = state_with(dusty, "60000", {"bob": ("100", [(Side.LONG, "1", "60000")])})
    assert get_target_size(state, state.accounts["bob"], 0, px("57000")) == lots("1")


def test_chunk_cooldown_makes_the_next_step_wait() -> None:
    m = market(policy=Policy.CHUNK, cooldown=30, buffer=Ratio.of(1, 2))
    state = state_with(m, "60000", LONG_1_BTC, DEEP_BIDS)
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("59230")))
    assert len(of(records, LiquidationStep)) == 1
    state, records = process_event(state, Clock(10))
    assert [r.reason for r in of(records, LiquidationWaiting)] == ["cooldown"]
    state, records = process_event(state, Clock(30))
    assert len(of(records, LiquidationStep)) == 1


# --- limits ------------------------------------------------------------------------------------


def test_bankruptcy_quote_is_the_worst_acceptable_grid_price() -> None:
    m = market()
    state = state_with(m, "59230", LONG_1_BTC)
    account = state.accounts["alice"]
    size = lots("0.3")
    quote = get_bankruptcy_quote(state, account, 0, size)
    assert quote is not None

    before = get_unit(state, account)
    at = get_unit(state, get_closed_account(state, account, 0, ((quote, size),)))
    worse = get_unit(state, get_closed_account(state, account, 0, ((quote - 1, size),)))
    assert is_acceptable(before, at)
    assert not is_acceptable(before, worse)


def test_whole_last_position_quote_is_the_bankruptcy_price() -> None:
    m = market()
    state = state_with(m, "59230", LONG_1_BTC)
    # equity 1000 + (P - 60000) x 1 = 0 at P = 59,000
    assert get_bankruptcy_quote(state, state.accounts["alice"], 0, lots("1")) == px("59000")


def test_impact_bound_can_be_the_binding_limit() -> None:
    m = market(impact_bound=Ratio.of(1, 1000))  # 0.1%: tighter than the bankruptcy quote
    state = state_with(m, "60000", LONG_1_BTC, [("59230", "0.2"), ("59100", "1")])
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("59230")))
    (step,) = of(records, LiquidationStep)
    assert step.limit_reason == "impact-bound"
    assert step.limit_price == -(-px("59230") * 999 // 1000)
    # only the level within 0.1% of the mark is touched; 59,100 is beyond the bound
    assert [price for price, _ in step.levels] == [px("59230")]


# --- fallbacks ---------------------------------------------------------------------------------


def test_no_liquidity_waits_when_told_to() -> None:
    m = market(on_unfilled=OnUnfilled.WAIT)
    state = state_with(m, "60000", LONG_1_BTC)
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("59230")))
    assert [r.reason for r in of(records, LiquidationWaiting)] == ["no-liquidity"]


def test_bankrupt_accounts_are_taken_over_even_when_waiting_is_allowed() -> None:
    m = market(on_unfilled=OnUnfilled.WAIT)
    state = state_with(m, "60000", LONG_1_BTC, fund="1000")
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("58800")))
    (takeover,) = of(records, Takeover)
    assert takeover.price == px("59000")
    assert takeover.fund_delta == -200 * USDT
    assert state.funds["USDT"] == 800 * USDT
    assert state.accounts["alice"].balance == 0


def test_takeover_of_a_solvent_account_pays_the_fund_its_margin() -> None:
    m = market()
    state = state_with(m, "60000", LONG_1_BTC, fund="1000")
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("59230")))
    (takeover,) = of(records, Takeover)
    # taken at the bankruptcy price 59,000: the fund gains 230, the account keeps 0
    assert takeover.fund_delta == 230 * USDT
    assert state.funds["USDT"] == 1230 * USDT
    assert state.accounts["alice"].balance == 0


def test_fund_cap_then_adl_with_exact_shares_and_ranking() -> None:
    """INS-2..4, INV-ADL-EXACT: the fund pays its cap, ADL the exact rest, in rank order."""
    m = market(insurance_step_cap=30 * USDT)
    accounts = {
        "alice": ("1000", [(Side.LONG, "1", "60000")]),
        "frank": ("3000", [(Side.SHORT, "0.6", "61000")]),
        "grace": ("20000", [(Side.SHORT, "0.8", "60500")]),
        "henry": ("5000", [(Side.LONG, "0.1", "58000")]),
    }
    state = state_with(m, "60000", accounts, fund="500")
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("58600")))
    # deficit: 400 below the bankruptcy price 59,000; the fund pays its cap 30
    (adl,) = of(records, Deleveraged)
    assert adl.deficit == 370 * USDT
    ranking = [(a.account, a.score) for a in adl.allocations]
    # PnL / equity: frank 0.6 x 2,400 / (3,000 + 1,440); grace 0.8 x 1,900 / (20,000 + 1,520)
    assert ranking == [("frank", str(Fraction(1440, 4440))), ("grace", str(Fraction(1520, 21520)))]
    shares = [a.share for a in adl.allocations]
    assert shares == [370 * USDT * 600 // 1000, 370 * USDT - 370 * USDT * 600 // 1000]
    assert adl.unallocated == 0
    assert state.accounts["henry"].positions  # same side as the bankrupt: untouched
    assert state.funds["USDT"] == 470 * USDT


def test_adl_passes_over_a_counterparty_it_would_make_liquidatable() -> None:
    m = market()
    accounts = {
        "alice": ("1000", [(Side.LONG, "1", "60000")]),
        # healthy at 58,600 (equity 900 > MM of 3 BTC, 829) and ranked first (300 / 900), but
        # closing 1 BTC and paying the 400 share leaves 500 <= MM of 2 BTC (536): passed over
        "thin": ("600", [(Side.SHORT, "3", "58700")]),
        "rich": ("50000", [(Side.SHORT, "2", "60000")]),
    }
    state = state_with(m, "60000", accounts)
    ranking = get_adl_ranking(
        attrs.evolve(
            state, markets={"BTCUSDT": attrs.evolve(state.markets["BTCUSDT"], mark=px("58600"))}
        ),
        m,
        -1,
        "alice",
    )
    assert next(name for _, name in ranking) == "thin"  # ranked first ...
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("58600")))
    (adl,) = of(records, Deleveraged)
    assert [a.account for a in adl.allocations] == ["rich"]  # ... but passed over


def test_socialized_loss_is_pro_rata_and_spares_accounts_without_a_position() -> None:
    m = market(deleveraging=Deleveraging.SOCIALIZE)
    accounts = {
        "alice": ("1000", [(Side.LONG, "1", "60000")]),
        "frank": ("3000", [(Side.SHORT, "0.6", "61000")]),
        "grace": ("20000", [(Side.LONG, "0.9", "60500")]),
        "idle": ("700", []),
    }
    state = state_with(m, "60000", accounts)
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("58600")))
    (loss,) = of(records, Deleveraged)
    deficit = 400 * USDT
    assert loss.deficit == deficit
    assert [(a.account, a.share) for a in loss.allocations] == [
        ("frank", deficit * 600 // 1500),
        ("grace", deficit - deficit * 600 // 1500),
    ]
    assert state.accounts["idle"].balance == 700 * USDT


def test_uncovered_deficit_is_bad_debt() -> None:
    m = market()
    state = state_with(m, "60000", LONG_1_BTC, fund="100")
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("58600")))
    (debt,) = of(records, BadDebt)
    assert debt.amount == 300 * USDT
    assert state.funds["USDT"] == 0
    assert get_equity(get_unit(state, state.accounts["alice"])) == -300 * USDT


def test_exit_threshold_ends_the_liquidation() -> None:
    m = market(policy=Policy.HEALTH)
    state = state_with(m, "60000", LONG_1_BTC, DEEP_BIDS)
    state, _ = process_event(state, MarkUpdate("BTCUSDT", px("59230")))
    unit = get_unit(state, state.accounts["alice"])
    assert not state.accounts["alice"].liquidating
    assert get_equity(unit) >= get_exit_threshold(unit) > get_maintenance_requirement(unit)


# --- rejections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (MarkUpdate("ETHUSDT", 1), Reason.UNKNOWN_MARKET),
        (MarkUpdate("BTCUSDT", 0), Reason.PRICE_OUT_OF_DOMAIN),
        (BookUpdate("BTCUSDT", Book((Level(10, 1), Level(11, 1)), ())), Reason.BAD_BOOK),
        (BookUpdate("BTCUSDT", Book((Level(20, 1),), (Level(20, 1),))), Reason.BAD_BOOK),
        (BookUpdate("BTCUSDT", Book((Level(20, 0),), ())), Reason.BAD_BOOK),
        (Deposit("alice", "USDT", 0), Reason.NOT_POSITIVE_AMOUNT),
        (Deposit("alice", "BTC", 5), Reason.CROSS_INCOMPATIBLE),
        (Withdrawal("nobody", "USDT", 5), Reason.UNKNOWN_ACCOUNT),
        (Withdrawal("alice", "USDT", 900 * USDT), Reason.INSUFFICIENT_MARGIN),
        (Fill("alice", "BTCUSDT", Side.LONG, lots("5"), px("60000")), Reason.INSUFFICIENT_MARGIN),
        (Fill("alice", "BTCUSDT", Side.LONG, 0, px("60000")), Reason.PRICE_OUT_OF_DOMAIN),
        (Clock(-1), Reason.TIME_BACKWARDS),
    ],
)
def test_rejected_events_leave_the_state_unchanged(event: object, reason: Reason) -> None:
    state = state_with(market(), "60000", LONG_1_BTC)
    with pytest.raises(EventRejectedError) as caught:
        process_event(state, event)  # type: ignore[arg-type]
    assert caught.value.reason is reason
    assert state == state_with(market(), "60000", LONG_1_BTC)


def test_a_reducing_fill_is_always_accepted() -> None:
    state = state_with(market(), "60000", {"alice": ("0", [(Side.LONG, "1", "60000")])})
    fill = Fill("alice", "BTCUSDT", Side.SHORT, lots("0.4"), px("60000"))
    state, _ = apply_event(state, fill)  # equity 0 < IM, yet a reduction goes through
    assert state.accounts["alice"].positions[0].size == lots("0.6")


def test_a_watched_fund_keeps_one_entry_per_time_and_its_peak() -> None:
    """INS-8: many changes at one time keep the largest replaced balance and the current one;
    the peak is the same as if every change were kept."""
    m = market(adl_drawdown=Ratio.of(3, 10), adl_window=100)
    state = State(5, {m.symbol: MarketState(m, 60_000)}, {}, {m.fund: 0})
    for balance in (40, 90, 10, 70, 20):
        state = set_fund(state, m.fund, balance)
    assert state.fund_history[m.fund] == ((5, 90), (5, 20))
    assert get_fund_peak(state, m.fund, 100) == 90
    later = set_fund(attrs.evolve(state, time=200), m.fund, 30)
    assert get_fund_peak(later, m.fund, 100) == 30  # 90 replaced at 5, out; 20 held until 200
