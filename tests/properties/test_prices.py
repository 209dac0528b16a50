"""Properties of liquidation and bankruptcy prices (spec/05-prices.md).

The soundness properties here are what INV-MM-SLOPE is the lemma for, and what INV-LP-SOUND,
INV-BP-SOUND and INV-BANKRUPT-LIQ prove per market in Z3 (the grid search's part, that it
returns the boundary, is tested only here).
"""

from __future__ import annotations

from fractions import Fraction
from functools import partial

import attrs
from hypothesis import given
from hypothesis import strategies as st

from liqspec import (
    ContractKind,
    MarginUnit,
    PriceStatus,
    TierMode,
    Trigger,
    Valuation,
    get_bankruptcy_price,
    get_exact_bankruptcy_price,
    get_liquidation_price,
    get_unrealized_pnl,
    is_bankrupt_at,
    is_liquidatable_at,
)
from liqspec.base.conventions import last_true
from liqspec.engine.execution import get_bankruptcy_quote, get_closed_account, is_acceptable
from liqspec.engine.state import AccountState, Book, MarketState, State, get_unit
from liqspec.model.markets import PriceDisplay
from liqspec.model.prices import (
    get_displayed_liquidation_price,
    get_exact_liquidation_price,
    get_tier_price_ranges,
)

from .strategies import units


def _adverse_run(unit: MarginUnit, index: int, last: int) -> list[int]:
    """Grid prices from the adverse end to ``last``: both ends, tier cuts, and neighbours."""
    leg = unit.legs[index]
    side = int(leg.position.side)
    adverse = 1 if side > 0 else leg.market.max_price
    cuts = [lo for lo, _ in get_tier_price_ranges(leg.market, leg.position.size)]
    candidates = {adverse, last, last - side, adverse + side}
    candidates |= {c + d for c in cuts for d in (-1, 0)}
    low, high = sorted((adverse, last))
    return sorted(p for p in candidates if low <= p <= high)


@given(units())
def test_liquidation_price_is_sound(unit: MarginUnit) -> None:
    """PRICE-4: liquidatable at the LP and on the whole adverse run; not one tick safer."""
    for index, leg in enumerate(unit.legs):
        side = int(leg.position.side)
        adverse = 1 if side > 0 else leg.market.max_price
        safe = leg.market.max_price if side > 0 else 1
        result = get_liquidation_price(unit, index)
        if result.status is PriceStatus.NEVER:
            assert not is_liquidatable_at(unit, index, adverse)
        elif result.status is PriceStatus.ALWAYS:
            for price in _adverse_run(unit, index, safe):
                assert is_liquidatable_at(unit, index, price)
        else:
            assert result.price is not None
            assert 1 <= result.price <= leg.market.max_price
            assert result.price != safe
            assert not is_liquidatable_at(unit, index, result.price + side)
            for price in _adverse_run(unit, index, result.price):
                assert is_liquidatable_at(unit, index, price), price


@given(units(tier_mode=TierMode.CONTINUOUS))
def test_continuous_tiers_make_liquidation_a_half_line(unit: MarginUnit) -> None:
    """PRICE-3: with continuous tiers, nothing beyond the LP on the safe side is liquidatable."""
    for index, leg in enumerate(unit.legs):
        result = get_liquidation_price(unit, index)
        if result.status is PriceStatus.AT and result.price is not None:
            side = int(leg.position.side)
            safe = leg.market.max_price if side > 0 else 1
            halfway = result.price + side * max(1, abs(safe - result.price) // 2)
            for price in {result.price + side, halfway, safe}:
                assert not is_liquidatable_at(unit, index, price)


def _closed_form_root(unit: MarginUnit) -> Fraction | None:
    """Venue closed form, DOMAIN: LP = (WB + cum - s Q EP) / (Q (MMR - s)), tier at the LP.

    Independent oracle for one linear leg, continuous tiers, marks valuation: the exact root;
    on a size-linear market MMR is the position's rate, min(m0 + k x q, cap).
    """
    leg = unit.legs[0]
    market, position = leg.market, leg.position
    s, scale = int(position.side), position.size * market.value_factor
    entry_value = position.entry_value  # = scale x entry price for a position opened on the grid
    for k, tier in enumerate(market.tiers):
        mmr = Fraction(tier.mmr.num, tier.mmr.den)
        if market.size_slope.num:  # Deribit's rate of the position's size (MARGIN-13)
            per_lot = Fraction(market.size_slope.num * market.lot_size.num,
                               market.size_slope.den * market.lot_size.den)  # fmt: skip
            cap = Fraction(market.size_rate_cap.num, market.size_rate_cap.den)
            mmr = min(mmr + per_lot * position.size, cap)
        candidate = (unit.collateral + tier.maintenance_amount - s * entry_value) / (
            scale * (mmr - s)
        )
        last = k == len(market.tiers) - 1
        if (
            candidate > 0
            and tier.floor <= scale * candidate
            and (last or scale * candidate < tier.cap)
        ):
            return candidate
    return None


def _closed_form_lp(unit: MarginUnit) -> tuple[PriceStatus, int | None]:
    """The closed form's root on the grid, for the strict trigger (PRICE-8)."""
    market, s = unit.legs[0].market, int(unit.legs[0].position.side)
    root = _closed_form_root(unit)
    top = market.max_price
    if s > 0:
        grid = None if root is None else -(-root.numerator // root.denominator) - 1
        if grid is None or grid < 1:
            return PriceStatus.NEVER, None
        return (PriceStatus.ALWAYS, None) if grid >= top else (PriceStatus.AT, grid)
    if root is None:
        return PriceStatus.ALWAYS, None
    grid = root.numerator // root.denominator + 1
    if grid > top:
        return PriceStatus.NEVER, None
    return (PriceStatus.ALWAYS, None) if grid <= 1 else (PriceStatus.AT, grid)


_ONE_LINEAR_LEG = units(
    max_legs=1,
    contract=ContractKind.LINEAR,
    tier_mode=TierMode.CONTINUOUS,
    trigger=Trigger.STRICT,
    valuation=Valuation.MARK,
)
"""Units where the venues' closed form applies: one linear leg, continuous tiers, at mark."""


@given(_ONE_LINEAR_LEG)
def test_liquidation_price_matches_the_published_closed_form(unit: MarginUnit) -> None:
    """PRICE-8: on linear continuous markets the grid LP is the venue formula, rounded."""
    result = get_liquidation_price(unit, 0)
    assert (result.status, result.price) == _closed_form_lp(unit)


@given(_ONE_LINEAR_LEG)
def test_exact_liquidation_price_is_the_closed_form_root(unit: MarginUnit) -> None:
    """PRICE-10: where PRICE-2 gives a price, the exact root is the venue formula's, the tier
    at the liquidation price; the displayed nearest tick is within half a tick of it."""
    exact = get_exact_liquidation_price(unit, 0)
    if get_liquidation_price(unit, 0).status is not PriceStatus.AT:
        assert exact is None
        return
    root = _closed_form_root(unit)
    assert exact == root
    market = unit.legs[0].market
    shown = attrs.evolve(market, price_display=PriceDisplay.NEAREST_HALF_UP)
    legs = (attrs.evolve(unit.legs[0], market=shown),)
    price = get_displayed_liquidation_price(attrs.evolve(unit, legs=legs), 0).price
    assert price is not None
    assert exact is not None
    assert -Fraction(1, 2) < price - exact <= Fraction(1, 2) or price in {1, market.max_price}


def _unrounded_equity(unit: MarginUnit, index: int, price: Fraction) -> Fraction:
    """Equity with this leg's value unrounded: C + s (v(P) - V(entry)), inverse mirrored."""
    leg = unit.legs[index]
    market, position = leg.market, leg.position
    others = unit.collateral + sum(
        get_unrealized_pnl(o.market, o.position, o.mark)
        for j, o in enumerate(unit.legs)
        if j != index
    )
    scale = position.size * market.value_factor
    entry_value = position.entry_value
    s = int(position.side)
    if market.contract is ContractKind.LINEAR:
        return others + s * (scale * price - entry_value)
    return others + s * (entry_value - scale / price)


@given(units())
def test_bankruptcy_price_zeroes_equity_and_rounds_to_safety(unit: MarginUnit) -> None:
    """PRICE-6, PRICE-7: equity is 0 at the exact BP; >= 0 at the grid BP, < 0 one tick worse."""
    for index, leg in enumerate(unit.legs):
        side = int(leg.position.side)
        exact = get_exact_bankruptcy_price(unit, index)
        if exact is not None:
            assert _unrounded_equity(unit, index, exact) == 0
        result = get_bankruptcy_price(unit, index)
        if result.status is PriceStatus.AT:
            assert result.price is not None
            assert not is_bankrupt_at(unit, index, result.price)
            assert is_bankrupt_at(unit, index, result.price - side)
            if leg.market.contract is ContractKind.INVERSE and side > 0:
                assert exact is not None  # V(P) = ceil(qK/P): equity >= 0 iff P >= exact
                assert result.price == -(-exact.numerator // exact.denominator)
            if leg.market.contract is ContractKind.LINEAR:
                assert exact is not None
                rounded = (
                    -(-exact.numerator // exact.denominator)
                    if side > 0
                    else exact.numerator // exact.denominator
                )
                assert result.price == rounded
        elif result.status is PriceStatus.NEVER:
            assert not is_bankrupt_at(unit, index, 1 if side > 0 else leg.market.max_price)
        else:
            assert is_bankrupt_at(unit, index, leg.market.max_price if side > 0 else 1)


@given(units(), st.data())
def test_liquidation_precedes_bankruptcy(unit: MarginUnit, data: st.DataObject) -> None:
    """PRICE-9: a bankrupt unit with a position is liquidatable (MM >= 0 > equity)."""
    index = data.draw(st.integers(0, len(unit.legs) - 1))
    price = data.draw(st.integers(1, unit.legs[index].market.max_price))
    if is_bankrupt_at(unit, index, price):
        assert is_liquidatable_at(unit, index, price)


def _quote_by_the_walk(state: State, account: AccountState, size: int) -> int | None:
    """LIQ-6's limit by CONV-14's plain walk from the best grid price toward the worst."""
    before = get_unit(state, account)

    def acceptable(price: int) -> bool:
        closed = get_closed_account(state, account, 0, ((price, size),))
        return is_acceptable(before, get_unit(state, closed))

    market = state.markets[account.positions[0].market].market
    best, worst = (market.max_price, 1) if account.positions[0].side > 0 else (1, market.max_price)
    if not acceptable(best):
        return None
    return worst if acceptable(worst) else last_true(acceptable, best, worst)


@given(units(), st.data())
def test_bankruptcy_quote_is_the_walks_boundary(unit: MarginUnit, data: st.DataObject) -> None:
    """LIQ-6, CONV-14: the quote searched from the line's root is the plain walk's result."""
    markets = {
        leg.market.symbol: MarketState(leg.market, leg.mark, Book((), ())) for leg in unit.legs
    }
    positions = tuple(leg.position for leg in unit.legs)
    account = AccountState("a", unit.legs[0].market.settle_asset, unit.collateral, positions)
    state = State(0, markets, {"a": account}, {})
    size = data.draw(st.integers(1, positions[0].size))
    assert get_bankruptcy_quote(state, account, 0, size) == _quote_by_the_walk(state, account, size)


def _walked_liquidation_price(unit: MarginUnit, index: int) -> tuple[PriceStatus, int | None]:
    """PRICE-3 by CONV-14's walk in each range: the oracle for the guessed search."""
    leg = unit.legs[index]
    side = int(leg.position.side)
    ranges = get_tier_price_ranges(leg.market, leg.position.size)
    oriented = ranges if side > 0 else [(hi, lo) for lo, hi in reversed(ranges)]
    for start, end in oriented:
        if not is_liquidatable_at(unit, index, start):
            if start == oriented[0][0]:
                return PriceStatus.NEVER, None
            return PriceStatus.AT, start - side
        if not is_liquidatable_at(unit, index, end):
            return PriceStatus.AT, last_true(
                lambda p: is_liquidatable_at(unit, index, p), start, end
            )
    return PriceStatus.ALWAYS, None


@given(units())
def test_guessed_search_finds_the_walks_prices(unit: MarginUnit) -> None:
    """PRICE-3, PRICE-5: starting from the line's root finds what the plain walk finds."""
    for index, leg in enumerate(unit.legs):
        found = get_liquidation_price(unit, index)
        assert (found.status, found.price) == _walked_liquidation_price(unit, index)
        side = int(leg.position.side)
        adverse, safe = (1, leg.market.max_price) if side > 0 else (leg.market.max_price, 1)
        bankrupt = get_bankruptcy_price(unit, index)
        if bankrupt.status is PriceStatus.AT:
            walked = last_true(partial(is_bankrupt_at, unit, index), adverse, safe) + side
            assert bankrupt.price == walked
