"""The transition function under random event sequences (spec/06-08).

A Hypothesis state machine drives marks, books, deposits, withdrawals, fills and the clock
over several accounts and three markets (two linear USDT, one inverse BTC), with each
market's liquidation policy drawn at the start, and checks after every event:

Invariants exercised (spec/invariants.md): INV-TRIGGER, INV-FEE, INV-RATIO, INV-FUND,
INV-ADL-EXACT, INV-CONSERVE-CLOSE, INV-BAND, INV-DEFICIT-CONSERVE (the conservation check
below, on every takeover, fund payment, ADL and socialization of the reference).

- determinism: the same event on the same state gives the same state and records;
- conservation per asset (spec/08-insurance.md): value changes only by deposits, withdrawals
  and fills against parties outside the state;
- insurance funds never negative (INS-2);
- no healthy account starts a liquidation, and only accounts in liquidation get steps (LIQ-1);
- an account is flagged only while it is in liquidation: recovering by the marks ends it (LIQ-2);
- no step or takeover lowers E/MM, and the fee stays within the surplus (LIQ-6, LIQ-8);
- during liquidation positions only shrink and never change side;
- ADL, bilateral and socialized shares sum to the deficit (INS-3), ADL and bilateral
  counterparties stay healthy, bilateral ones are taken in id order (INS-7);
- a rejected event is rejected by both entry points (STATE-8);
- accounts hold isolated units beside their cross units (STATE-11, STATE-12): after a price,
  book or clock event, a unit that no record names keeps its balance and positions, so an
  isolated unit's liquidation never reaches its owner's cross wallet, nor any other unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from unittest import mock

import attrs
import hypothesis
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from liqspec import (
    Market,
    Ratio,
    Side,
    get_equity,
    get_value,
    is_liquidatable,
    load_market,
)
from liqspec.base.errors import EventRejectedError
from liqspec.engine import insurance, liquidation
from liqspec.engine.breakers import get_band, is_halted
from liqspec.engine.insurance import get_adl_ranking
from liqspec.engine.queue import (
    IndexRef,
    get_indexed_queue,
    get_liquidation_queue,
    is_in_liquidation,
)
from liqspec.engine.ranking import get_indexed_ranking
from liqspec.engine.records import (
    BreakerTripped,
    Deleveraged,
    Filled,
    LiquidationStarted,
    LiquidationStep,
    LiquidationWaiting,
    Record,
    RiskAdjusted,
    Takeover,
)
from liqspec.engine.state import (
    AccountState,
    AddMargin,
    Book,
    BookUpdate,
    Clock,
    Deposit,
    Event,
    Fill,
    IndexUpdate,
    Level,
    MarketState,
    MarkUpdate,
    ReferenceUpdate,
    RemoveMargin,
    State,
    Withdrawal,
    get_isolated_id,
    get_unit,
)
from liqspec.engine.transition import apply_event, process_event, process_markets
from liqspec.model.accounts import MarginMode
from liqspec.model.market_rules import validate_market
from liqspec.model.markets import (
    BreakerParams,
    ContractKind,
    Deleveraging,
    FeeRule,
    HaltAction,
    LimitRule,
    OnUnfilled,
    Policy,
    RiskParams,
)
from tests.data import MARKETS

from .conservation import check_conservation, signed_positions

BASE = {
    "BTCUSDT": (load_market(MARKETS / "binance-btcusdt-2024-10-24.toml"), 600_000),
    "CYBERUSDT": (load_market(MARKETS / "binance-cyberusdt-2023-08-31.toml"), 4_500),
    "BTCUSD_PERP": (load_market(MARKETS / "binance-btcusd-coinm-2024.toml"), 600_000),
}
ACCOUNTS = {"u0": "USDT", "u1": "USDT", "u2": "USDT", "u3": "USDT", "b0": "BTC", "b1": "BTC"}


BREAKERS = BreakerParams(
    band=Ratio.of(3, 100),
    halt_levels=(Ratio.of(4, 100), Ratio.of(8, 100)),
    halt_durations=(5, 0),
    dynamic_move=Ratio.of(2, 100),
    dynamic_window=10,
    dynamic_pause=5,
    divergence=Ratio.of(5, 100),
)
RISK = RiskParams(
    vol_window=3, vol_threshold=1_000, slope=Ratio.of(1, 20_000), max_multiplier=Ratio.of(3, 2),
    max_step=Ratio.of(1, 10), hysteresis=Ratio.of(1, 100), interval=5, phase_in=10,
)  # fmt: skip
BOOK_GAPS = st.lists(st.integers(1, 60), min_size=0, max_size=4)
BOOK_SIZES = st.lists(st.integers(1, 3_000), min_size=4, max_size=4)


def around(mark: int, gaps: list[int], sizes: list[int]) -> Book:
    """A book around ``mark``: bids below it at the given gaps (0.05% each), one ask above."""
    step = max(1, mark // 2_000)
    bids, price = [], mark
    for gap, size in zip(gaps, sizes, strict=False):
        price -= gap * step
        if price >= 1:
            bids.append(Level(price, size))
    return Book(tuple(bids), (Level(mark + step, sizes[0]),))


def not_lower(equity_before: int, mm_before: int, equity_after: int, mm_after: int) -> bool:
    return equity_after * mm_before >= equity_before * mm_after


def _queue_checked_by_the_scan(state: State) -> tuple[list[str], State]:
    """LIQ-3: the engine's indexed queue is the scan's, after every event of the machine."""
    queue, moved = get_indexed_queue(state)
    assert queue == get_liquidation_queue(state)
    ref = moved.queue_index
    assert isinstance(ref, IndexRef)
    hypothesis.event(f"queue index: {ref.index.examined} of {len(state.accounts)} examined")
    return queue, moved


def _ranking_checked_by_the_scan(
    state: State, market: Market, side: int, exclude: str
) -> tuple[Iterator[tuple[Fraction, str]], State]:
    """INS-4: the engine's indexed ADL ranking is the scan's, at every deficit of the machine."""
    found, moved = get_indexed_ranking(state, market, side, exclude)
    ranking = list(found)
    assert ranking == get_adl_ranking(state, market, side, exclude)
    hypothesis.event(f"ADL ranking of {len(ranking)}")
    return iter(ranking), moved


class Engine(RuleBasedStateMachine):
    """Random event sequences against the reference transition function."""

    state: State

    @initialize(
        policies=st.lists(st.sampled_from(Policy), min_size=3, max_size=3),
        unfilled=st.sampled_from(OnUnfilled),
        deleveraging=st.sampled_from(Deleveraging),
        funds=st.tuples(st.integers(0, 10**12), st.integers(0, 10**7)),
        fee=st.sampled_from([Ratio.of(1, 1000), Ratio.of(1, 100), Ratio.of(1, 20)]),
        halted=st.sampled_from(HaltAction),
        split=st.sampled_from([FeeRule.FIXED, FeeRule.IMPLIED, None]),
        limit=st.sampled_from(LimitRule),
    )
    def start(
        self,
        policies: list[Policy],
        unfilled: OnUnfilled,
        deleveraging: Deleveraging,
        funds: tuple[int, int],
        fee: Ratio,
        halted: HaltAction,
        split: FeeRule | None,
        limit: LimitRule,
    ) -> None:
        markets = {}
        for (symbol, (base, mark)), policy in zip(BASE.items(), policies, strict=True):
            params = attrs.evolve(
                base.liquidation,
                policy=policy,
                on_unfilled=unfilled,
                deleveraging=deleveraging,
                cooldown=5,
                fee=fee,
                risk_aversion=Ratio.of(1, 10**3),  # read by optimal only (LIQ-11)
            )
            if base.contract is ContractKind.LINEAR:  # the fillable-price rule (LIQ-13)
                params = attrs.evolve(params, limit_rule=limit)
            if split is not None:  # a liquidator's fee that ramps, and the fund's rule (LIQ-12)
                params = attrs.evolve(
                    params, fee_rule=split, liquidator_fee=Ratio.of(1, 2000),
                    liquidator_fee_step=Ratio.of(1, 10**5), liquidator_fee_grace=3,
                    liquidator_fee_max=Ratio.of(1, 500),
                )  # fmt: skip
            book = around(mark, [1, 2, 4, 8], [2_000, 2_000, 4_000, 8_000])
            market = attrs.evolve(base, liquidation=params)
            if symbol == "BTCUSDT":
                breakers = attrs.evolve(BREAKERS, while_halted=halted)
                market = attrs.evolve(market, breakers=breakers, risk=RISK)
            elif policy is Policy.OPTIMAL:  # a volatility estimate for its risk term
                market = attrs.evolve(market, risk=attrs.evolve(market.risk, vol_window=2))
            validate_market(market)
            markets[symbol] = MarketState(market, mark, book, reference=mark, history=((0, mark),))
        start = {"USDT": 20_000 * 10**8, "BTC": 10**8}  # 20,000 USDT; 1 BTC
        accounts = {name: AccountState(name, a, start[a]) for name, a in ACCOUNTS.items()}
        self.state = State(0, markets, accounts, {"USDT": funds[0], "BTC": funds[1]})

    # --- events --------------------------------------------------------------------------------

    def step(self, event: Event) -> None:
        before = self.state
        try:
            middle, _ = apply_event(before, event)
        except EventRejectedError as rejected:
            reason = rejected.reason
            with pytest.raises(EventRejectedError) as again:
                process_event(before, event)
            assert again.value.reason is reason
            return
        with (
            mock.patch.object(liquidation, "get_indexed_queue", _queue_checked_by_the_scan),
            mock.patch.object(insurance, "get_indexed_ranking", _ranking_checked_by_the_scan),
        ):
            after, records = process_event(before, event)
        assert process_event(before, event) == (after, records)  # determinism, index rebuilt
        ruled, _ = process_markets(before, middle, event)
        assert (ruled.accounts, ruled.funds) == (middle.accounts, middle.funds)  # BRK-7
        self.check_breakers(before, after, records)
        if isinstance(event, Clock):
            self.check_phase_in(middle, ruled, records)
        for record in records:
            hypothesis.event(type(record).__name__)
        check_conservation(before, after, event, records)
        if isinstance(event, MarkUpdate | BookUpdate | Clock | IndexUpdate | ReferenceUpdate):
            self.check_units_apart(before, after, records)
        self.check_liquidation(process_markets(before, middle, event)[0], after, records)
        self.state = after

    @rule(
        market=st.sampled_from(sorted(BASE)),
        move=st.integers(-150, 100) | st.integers(-600, 400),
        book=st.none() | st.tuples(BOOK_GAPS, BOOK_SIZES),
    )
    def move_mark(self, market: str, move: int, book: tuple[list[int], list[int]] | None) -> None:
        """Move the mark by move/100 percent; maybe post a book around the new mark first."""
        mark = self.state.markets[market].mark
        new_mark = max(1, mark + mark * move // 10_000)
        if book is not None:
            self.step(BookUpdate(market, around(new_mark, *book)))
        self.step(MarkUpdate(market, new_mark))

    @rule(market=st.sampled_from(sorted(BASE)), gaps=BOOK_GAPS, sizes=BOOK_SIZES)
    def new_book(self, market: str, gaps: list[int], sizes: list[int]) -> None:
        self.step(BookUpdate(market, around(self.state.markets[market].mark, gaps, sizes)))

    @rule(account=st.sampled_from(sorted(ACCOUNTS)), amount=st.integers(1, 10**12))
    def deposit(self, account: str, amount: int) -> None:
        asset = ACCOUNTS[account]
        self.step(Deposit(account, asset, amount if asset == "USDT" else amount // 10**4 + 1))

    @rule(account=st.sampled_from(sorted(ACCOUNTS)), amount=st.integers(1, 10**12))
    def withdraw(self, account: str, amount: int) -> None:
        self.step(Withdrawal(account, ACCOUNTS[account], amount))

    @rule(
        account=st.sampled_from(sorted(ACCOUNTS)),
        market=st.sampled_from(sorted(BASE)),
        side=st.sampled_from(Side),
        leverage=st.integers(1, 80),
        offset=st.integers(-30, 30),
        isolated=st.booleans(),
    )
    def fill(
        self, account: str, market: str, side: Side, leverage: int, offset: int, isolated: bool
    ) -> None:
        """Trade about ``leverage`` x equity of notional (or a few lots if that is nothing)."""
        entry = self.state.markets[market]
        mark = entry.mark
        price = max(1, mark + offset * max(1, mark // 10_000))
        unit_id = get_isolated_id(account, market) if isolated else account
        unit = self.state.accounts.get(unit_id, AccountState(unit_id, ACCOUNTS[account], 0))
        equity = get_equity(get_unit(self.state, unit))
        per_lot = max(1, get_value(entry.market, 1, mark))
        size = max(1, leverage * max(0, equity) // per_lot)
        mode = MarginMode.ISOLATED if isolated else MarginMode.CROSS
        self.step(Fill(account, market, side, size, price, mode))

    @rule(
        account=st.sampled_from(sorted(ACCOUNTS)),
        market=st.sampled_from(sorted(BASE)),
        side=st.sampled_from(Side),
        share=st.integers(1, 100),
        leverage=st.integers(5, 100),
    )
    def open_isolated(
        self, account: str, market: str, side: Side, share: int, leverage: int
    ) -> None:
        """Open an isolated position as a venue does: margin first, then the fill (STATE-12)."""
        self.move_margin(account, market, share)
        self.fill(account, market, side, leverage, 0, isolated=True)

    @rule(
        account=st.sampled_from(sorted(ACCOUNTS)),
        market=st.sampled_from(sorted(BASE)),
        share=st.integers(-100, 100).filter(bool),
    )
    def move_margin(self, account: str, market: str, share: int) -> None:
        """Move share% of the giving unit's balance (at least a quantum) in or out (STATE-12)."""
        unit = self.state.accounts.get(get_isolated_id(account, market))
        giver = self.state.accounts[account] if share > 0 else unit
        amount = max(1, abs(share) * (giver.balance if giver is not None else 0) // 100)
        move = AddMargin if share > 0 else RemoveMargin
        self.step(move(account, market, amount))

    @rule(advance=st.integers(0, 10))
    def clock(self, advance: int) -> None:
        self.step(Clock(self.state.time + advance))

    # --- checks --------------------------------------------------------------------------------

    def check_units_apart(self, before: State, after: State, records: tuple[Record, ...]) -> None:
        """STATE-11: with no event naming a unit, only the records that name it change it."""
        named = {str(getattr(record, "account", "")) for record in records}
        for record in records:
            if isinstance(record, Deleveraged):
                named.update(a.account for a in record.allocations)
        for unit_id, unit in before.accounts.items():
            if unit_id not in named:
                kept = after.accounts[unit_id]
                assert (kept.balance, kept.positions) == (unit.balance, unit.positions), unit_id
        liquidated = any("@" in str(getattr(r, "account", "")) for r in records)
        hypothesis.event(f"an isolated unit in liquidation: {liquidated}")

    def check_liquidation(self, middle: State, after: State, records: tuple[Record, ...]) -> None:
        for record in records:
            if isinstance(record, LiquidationStarted):
                account = middle.accounts[record.account]
                assert is_liquidatable(get_unit(middle, account))
            if isinstance(record, LiquidationStep | Takeover | LiquidationWaiting):
                account = middle.accounts[record.account]
                assert is_in_liquidation(get_unit(middle, account), account)
            if isinstance(record, LiquidationStep):
                assert 0 < record.executed <= record.target
                assert 0 <= record.fee <= max(0, record.surplus)
                assert not_lower(
                    record.equity_before, record.maintenance_before,
                    record.equity_after, record.maintenance_after,
                )  # fmt: skip
            if isinstance(record, Takeover):
                assert not_lower(
                    record.equity_before, record.maintenance_before,
                    record.equity_after, record.maintenance_after,
                ) or record.price == middle.markets[record.market].mark  # fmt: skip
            if isinstance(record, Deleveraged):
                shares = sum(a.share for a in record.allocations)
                assert shares + record.unallocated == record.deficit
                assert all(a.share >= 0 for a in record.allocations)
                takers = [a.account for a in record.allocations]
                if record.method == "bilateral":  # INS-7: the other side's holders by id
                    assert takers == sorted(takers)
                for allocation in record.allocations if record.method != "socialize" else ():
                    unit = get_unit(after, after.accounts[allocation.account])
                    assert get_equity(unit) >= 0, allocation  # INS-4, INS-7: never bankrupt
                    assert not is_liquidatable(unit), allocation
        held, now = signed_positions(middle), signed_positions(after)
        for key, size in now.items():
            start = held.get(key, 0)
            assert abs(size) <= abs(start), (key, start, size)
            assert size * start > 0, (key, start, size)

    def check_phase_in(self, middle: State, ruled: State, records: tuple[Record, ...]) -> None:
        """RISK-6 on clock events (no price moves): a liquidation that starts is due to prices
        earlier, or to an account that acted since its market's phase-in began."""
        for record in records:
            if isinstance(record, LiquidationStarted):
                account = middle.accounts[record.account]
                acted = any(
                    ruled.markets[p.market].previous is not None
                    and account.last_action >= ruled.markets[p.market].phase_start
                    for p in account.positions
                )
                assert acted or is_liquidatable(get_unit(middle, account))

    def check_breakers(self, before: State, after: State, records: tuple[Record, ...]) -> None:
        """BRK-1, BRK-2, BRK-6: no fill outside the band; none while halted (unless told)."""
        for record in records:
            if isinstance(record, Filled):
                entry = before.markets[record.market]
                assert not is_halted(entry, before.time)
                band = get_band(entry)
                assert band is None or band[0] <= record.price <= band[1]
            if isinstance(record, LiquidationStep):
                entry = after.markets[record.market]
                band = get_band(entry)
                for price, _ in record.levels:
                    assert band is None or band[0] <= price <= band[1]
                if entry.market.breakers.while_halted is not HaltAction.CONTINUE:
                    assert not is_halted(entry, after.time)
            if isinstance(record, RiskAdjusted | BreakerTripped):
                validate_market(after.markets[record.market].market)

    @rule(index_move=st.integers(-300, 300), basis=st.integers(-20, 20))
    def index(self, index_move: int, basis: int) -> None:
        mark = self.state.markets["BTCUSDT"].mark
        price = max(1, mark + mark * index_move // 10_000)
        self.step(IndexUpdate("BTCUSDT", price, Fraction(basis, 10_000)))

    @rule()
    def new_reference(self) -> None:
        self.step(ReferenceUpdate("BTCUSDT", self.state.markets["BTCUSDT"].mark))

    @invariant()
    def only_accounts_in_liquidation_are_flagged(self) -> None:
        """LIQ-2: a liquidation ends whenever its account is found out of liquidation."""
        for account in self.state.accounts.values():
            if account.liquidating:
                assert is_in_liquidation(get_unit(self.state, account), account), account.id

    @invariant()
    def funds_are_never_negative(self) -> None:
        assert all(balance >= 0 for balance in self.state.funds.values())


# Four times the active profile's examples (tests/conftest.py), at most 3,000: a run costs about
# a millisecond per event, and liquidations need several events to set up.
Engine.TestCase.settings = settings(max_examples=min(4 * settings().max_examples, 3_000))
TestEngine = Engine.TestCase
