"""Hypothesis strategies: valid markets (every rule of spec/02-markets.md holds) and margin units.

Tier caps are drawn from the values the generated position takes at random grid prices, so
that tier boundaries fall inside the price domain and are crossed by the searches.
"""

from __future__ import annotations

import attrs
from hypothesis import strategies as st

from liqspec import (
    ContractKind,
    Leg,
    MarginUnit,
    Market,
    Position,
    Ratio,
    Side,
    Tier,
    TierMode,
    Trigger,
    Valuation,
    get_maintenance_margin,
    get_unrealized_pnl,
    get_value,
    make_market,
    open_position,
)
from liqspec.model.market_rules import derive_maintenance_amounts, validate_market

RATE_DEN = 10_000  # rates in hundredths of a percent; caps are multiples of it (MARKET-10)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


@st.composite
def _rates(draw: st.DrawFn, count: int) -> list[tuple[int, int]]:
    """Strictly increasing mmr and non-decreasing imr > mmr, in 1/RATE_DEN."""
    mmrs = sorted(draw(st.sets(st.integers(1, 4_000), min_size=count, max_size=count)))
    pairs, previous_imr = [], 0
    for mmr in mmrs:
        imr = max(previous_imr, mmr + draw(st.integers(1, 3_000)))
        imr = min(imr, RATE_DEN)
        pairs.append((mmr, imr))
        previous_imr = imr
    return pairs


@st.composite
def market_and_size(
    draw: st.DrawFn,
    *,
    contract: ContractKind | None = None,
    tier_mode: TierMode | None = None,
    trigger: Trigger | None = None,
    valuation: Valuation | None = None,
    quantum: Ratio | None = None,
    symbol: str = "TEST",
    size_linear: bool | None = None,
) -> tuple[Market, int]:
    """Draw a valid market and a position size (lots) whose tiers matter on the grid.

    A linear market with one tier is sometimes size-linear (MARGIN-13); ``size_linear=True``
    always draws one.
    """
    contract = ContractKind.LINEAR if size_linear else contract
    contract = contract or draw(st.sampled_from(ContractKind))
    tier_mode = tier_mode or draw(st.sampled_from(TierMode))
    tick = Ratio.of(draw(st.sampled_from([1, 5])), 10 ** draw(st.integers(0, 2)))
    lot = Ratio.of(1, 10 ** draw(st.integers(0, 3)))
    value = Ratio.of(draw(st.sampled_from([1, 10, 100])), 1)
    if quantum is None:
        quantum = Ratio.of(1, 10**8)
    max_price = draw(st.integers(10, 10**6))
    size = draw(st.integers(1, 10**4))
    base = make_market(
        symbol=symbol, contract=contract, base_asset="B", quote_asset="Q",
        settle_asset="B" if contract is ContractKind.INVERSE else "Q",
        price_tick=tick, lot_size=lot, settle_quantum=quantum, max_price=max_price,
        contract_value=value if contract is ContractKind.INVERSE else Ratio(1, 1),
        tiers=(Tier(0, 10**60, Ratio.of(1, 100), Ratio.of(1, 50), 0),), tier_mode=tier_mode,
    )  # fmt: skip
    count = draw(st.integers(1, 5))
    prices = draw(st.lists(st.integers(1, max_price), min_size=count, max_size=count))
    caps = sorted({_round_up(get_value(base, size, p), RATE_DEN) for p in prices} - {0})
    caps.append(caps[-1] * 2 + RATE_DEN if caps else RATE_DEN)
    if size_linear is None:  # one linear market in eight
        size_linear = contract is ContractKind.LINEAR and draw(st.integers(0, 3)) == 0
    caps = caps[-1:] if size_linear else caps
    rates = draw(_rates(len(caps)))
    floors = [0, *caps[:-1]]
    bare = tuple(
        Tier(f, c, Ratio.of(m, RATE_DEN), Ratio.of(i, RATE_DEN), 0)
        for f, c, (m, i) in zip(floors, caps, rates, strict=True)
    )
    amounts = derive_maintenance_amounts(bare) if tier_mode is TierMode.CONTINUOUS else None
    tiers = tuple(
        Tier(t.floor, t.cap, t.mmr, t.imr, amounts[k].num if amounts else 0)
        for k, t in enumerate(bare)
    )
    market = make_market(
        symbol=symbol, contract=contract, base_asset="B", quote_asset="Q",
        settle_asset=base.settle_asset, price_tick=tick, lot_size=lot, settle_quantum=quantum,
        max_price=max_price, contract_value=base.contract_value, tiers=tiers,
        tier_mode=tier_mode,
        trigger=trigger or draw(st.sampled_from(Trigger)),
        margin_valuation=valuation or draw(st.sampled_from(Valuation)),
    )  # fmt: skip
    return (draw(_size_linear(market)) if size_linear else market), size


@st.composite
def _size_linear(draw: st.DrawFn, market: Market) -> Market:
    """Give a one-tier linear market a size slope and a cap the rules allow (MARGIN-13)."""
    mmr = market.tiers[0].mmr.num * RATE_DEN // market.tiers[0].mmr.den
    slope = Ratio.of(draw(st.integers(1, 100)), 10 ** draw(st.integers(2, 8)))
    cap = Ratio.of(draw(st.integers(mmr, (RATE_DEN + mmr - 1) // 2)), RATE_DEN)
    sized = attrs.evolve(market, size_slope=slope, size_rate_cap=cap)
    validate_market(sized)
    return sized


@st.composite
def positions(draw: st.DrawFn, market: Market, size: int) -> Position:
    """Draw a position of ``size`` lots on ``market`` with an entry on the grid."""
    return open_position(
        market, draw(st.sampled_from(Side)), size, draw(st.integers(1, market.max_price))
    )


@st.composite
def units(draw: st.DrawFn, /, max_legs: int = 3, **market_options: object) -> MarginUnit:
    """Draw a margin unit: one leg (isolated or alone) or several cross legs.

    ``market_options`` shape the first leg's market; a ``tier_mode`` applies to every leg.
    """
    first, size = draw(market_and_size(**market_options))  # type: ignore[arg-type]
    legs = [Leg(first, draw(positions(first, size)), draw(st.integers(1, first.max_price)))]
    for n in range(draw(st.integers(1, max_legs)) - 1):
        other, other_size = draw(
            market_and_size(
                trigger=first.trigger,
                quantum=first.settle_quantum,
                tier_mode=market_options.get("tier_mode"),  # type: ignore[arg-type]
                symbol=f"OTHER{n}",
            )
        )
        position = draw(positions(other, other_size))
        legs.append(Leg(other, position, draw(st.integers(1, other.max_price))))
    entry_value = legs[0].position.entry_value
    collateral = draw(
        st.one_of(
            st.integers(0, 2 * entry_value + 10),
            st.integers(0, 10**30),
            _on_the_boundary(legs, draw(st.integers(1, first.max_price))),
        )
    )
    return MarginUnit("unit", "Q", first.settle_quantum, collateral, tuple(legs), first.trigger)


def _on_the_boundary(legs: list[Leg], price: int) -> st.SearchStrategy[int]:
    """Collateral that puts equity exactly at maintenance with the first leg at ``price``."""
    first = legs[0]
    pnl = get_unrealized_pnl(first.market, first.position, price)
    maintenance = get_maintenance_margin(first.market, first.position, price)
    for leg in legs[1:]:
        pnl += get_unrealized_pnl(leg.market, leg.position, leg.mark)
        maintenance += get_maintenance_margin(leg.market, leg.position, leg.mark)
    return st.just(max(0, maintenance - pnl))
