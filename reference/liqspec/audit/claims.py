"""Checking a calculator's claimed prices against the reference (spec/16-audit.md#AUDIT-8).

Each row of a CSV is one position with the liquidation price some software shows for it, and
optionally its bankruptcy price and maintenance margin. The reference computes the exact
values (chapters 4 and 5); where the claim differs, the most common causes are tried in
turn: the other trigger convention, a rounding toward safety, and a maintenance tier chosen
from something other than the notional at the liquidation price.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import attrs
from attrs import frozen

from liqspec.base.conventions import decimal_text, parse_decimal, to_units
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import read_csv
from liqspec.model.accounts import Leg, MarginMode, MarginUnit, Side, open_position
from liqspec.model.margin import get_maintenance_margin, get_notional, get_tier_index
from liqspec.model.markets import Market, Tier, Trigger
from liqspec.model.prices import (
    PriceResult,
    PriceStatus,
    get_bankruptcy_price,
    get_liquidation_price,
)

__all__ = ["COLUMNS", "Claim", "Verdict", "check_claim", "get_cause", "load_claims"]

_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

COLUMNS = ("id", "market", "side", "size", "entry", "mode", "margin", "liquidation_price")
OPTIONAL = ("bankruptcy_price", "maintenance", "mark", "account")
_T = TypeVar("_T")
MAX_CLAIMS_BYTES = 64 << 20
"""Largest claims file (64 MiB): some hundreds of thousands of rows."""


@frozen
class Claim:
    """One row: a position, its collateral, and the prices a calculator shows for it."""

    id: str
    market: Market
    unit: MarginUnit
    entry: int
    """The entry price in ticks."""
    liquidation: Fraction | None
    """The claimed liquidation price in the quote asset; None for ``none`` (no price)."""
    bankruptcy: Fraction | str | None = ""
    """The claimed bankruptcy price, None for ``none``, or "" when not claimed."""
    maintenance: Fraction | None = None
    leg: int = 0
    """The row's position in ``unit``: cross rows of one account share a unit."""


@frozen
class Verdict:
    """The reference's values for a claim, the differences in ticks and the likely cause."""

    id: str
    liquidation: PriceResult
    bankruptcy: PriceResult
    maintenance: int
    liquidation_ticks: Fraction | None
    """Claimed minus reference, in ticks; None when either has no price."""
    bankruptcy_ticks: Fraction | None
    maintenance_diff: Fraction | None
    """Claimed minus reference maintenance, in the settlement asset."""
    agrees: bool
    cause: str
    """``ok``; for the liquidation price ``trigger``, ``rounding``, ``tier N``, ``no-price`` or
    ``unexplained``; else ``bankruptcy`` or ``maintenance``."""
    away: bool
    """The claimed liquidation price is farther from the entry than the reference's."""


def load_claims(path: Path, markets: Mapping[str, Market]) -> list[Claim]:
    """Read a claims CSV (AUDIT-8); an error names the file, the line and the column.

    Cross rows with the same ``account`` are one unit: their positions side by side on one
    wallet, the ``margin`` every one of them gives.
    """
    claims: list[Claim] = []
    ids: set[str] = set()
    accounts: dict[str, tuple[str, int]] = {}
    """Each cross account's first claim's id and its index in ``claims``."""
    for where, row in read_csv(path, COLUMNS, OPTIONAL, MAX_CLAIMS_BYTES):
        try:
            if not _ID.fullmatch(row["id"]) or row["id"] in ids:
                detail = "1 to 64 letters, digits or _ . : -, a different one on each line"
                raise InputError(Reason.OUT_OF_RANGE, f"{where}: id", row["id"], detail)
            ids.add(row["id"])
            claim = _claim(row, where, markets)
            account = row.get("account") or ""
            if account and claim.unit.legs[0].position.margin_mode is MarginMode.CROSS:
                claims = _beside(claims, accounts.get(account), claim, where)
                accounts.setdefault(account, (claim.id, len(claims) - 1))
            else:
                claims.append(claim)
        except InputError as error:
            raise error.located(str(path)) from None
    return claims


def _beside(
    claims: list[Claim], first: tuple[str, int] | None, claim: Claim, where: str
) -> list[Claim]:
    """Add a cross claim to its account's unit: every claim of the account gets the new leg."""
    if first is None:
        return [*claims, claim]
    unit = claims[first[1]].unit
    leg = claim.unit.legs[0]
    symbol = leg.market.symbol
    base = unit.legs[0].market
    if (leg.market.settle_asset, leg.market.settle_quantum, leg.market.trigger) != (
        unit.asset, base.settle_quantum, base.trigger
    ):  # fmt: skip
        detail = (f"a cross account's markets share one settlement asset, quantum and trigger "
                  f"(ACCOUNT-4): {unit.asset}, {base.settle_quantum}, "
                  f"{base.trigger.value} on its first row")  # fmt: skip
        raise InputError(Reason.CROSS_INCOMPATIBLE, f"{where}: market", symbol, detail)
    if any(other.market.symbol == symbol for other in unit.legs):
        detail = "the account already has a position in this market"
        raise InputError(Reason.DUPLICATE_POSITION, f"{where}: market", symbol, detail)
    if claim.unit.collateral != unit.collateral:
        quantum = unit.quantum
        wallet = decimal_text(unit.collateral * quantum.num, quantum.den)
        margin = decimal_text(claim.unit.collateral * quantum.num, quantum.den)
        detail = f"the account's cross wallet is {wallet} on its first row"
        raise InputError(Reason.OUT_OF_RANGE, f"{where}: margin", margin, detail)
    joined = attrs.evolve(unit, legs=(*unit.legs, leg))
    claims = [attrs.evolve(c, unit=joined) if c.unit is unit else c for c in claims]
    return [*claims, attrs.evolve(claim, unit=joined, leg=len(unit.legs))]


def _claim(row: dict[str, str], where: str, markets: Mapping[str, Market]) -> Claim:
    symbol = row["market"]
    if symbol not in markets:
        raise InputError(Reason.UNKNOWN_MARKET, f"{where}: market", symbol, "not loaded")
    market = markets[symbol]
    sides = {"long": Side.LONG, "short": Side.SHORT}
    modes = {"cross": MarginMode.CROSS, "isolated": MarginMode.ISOLATED}
    side = _choice(row["side"], sides, f"{where}: side")
    mode = _choice(row["mode"], modes, f"{where}: mode")
    size = to_units(row["size"], market.lot_size, f"{where}: size", "lot size")
    entry = to_units(row["entry"], market.price_tick, f"{where}: entry", "price tick")
    margin = to_units(row["margin"], market.settle_quantum, f"{where}: margin", "quantum")
    mark_text = row.get("mark") or row["entry"]
    mark = to_units(mark_text, market.price_tick, f"{where}: mark", "price tick")
    for name, value in (("size", size), ("entry", entry), ("mark", mark)):
        if value <= 0 or (name != "size" and value > market.max_price):
            detail = "must be positive" + ("" if name == "size" else " and at most max_price")
            raise InputError(Reason.OUT_OF_RANGE, f"{where}: {name}", row.get(name), detail)
    if margin < 0:
        detail = "must not be negative"
        raise InputError(Reason.OUT_OF_RANGE, f"{where}: margin", row["margin"], detail)
    isolated = margin if mode is MarginMode.ISOLATED else 0
    position = open_position(market, side, size, entry, margin_mode=mode, isolated_margin=isolated)
    leg = Leg(market, position, mark)
    unit = MarginUnit(row["id"], market.settle_asset, market.settle_quantum, margin, (leg,),
                      market.trigger)  # fmt: skip
    liquidation = _price(row["liquidation_price"], f"{where}: liquidation_price")
    if liquidation == "":
        detail = "a price, or none when the calculator shows no liquidation price"
        raise InputError(Reason.MISSING_KEY, f"{where}: liquidation_price", "", detail)
    assert not isinstance(liquidation, str)  # noqa: S101 - "" was refused just above
    bankruptcy = _price(row.get("bankruptcy_price") or "", f"{where}: bankruptcy_price")
    maintenance = _price(row.get("maintenance") or "", f"{where}: maintenance")
    if maintenance is None:
        raise InputError(Reason.NOT_A_DECIMAL, f"{where}: maintenance", "none", "an amount")
    claimed_mm = maintenance if isinstance(maintenance, Fraction) else None
    return Claim(row["id"], market, unit, entry, liquidation, bankruptcy, claimed_mm)


def _choice(text: str, options: Mapping[str, _T], where: str) -> _T:
    if text not in options:
        raise InputError(Reason.OUT_OF_RANGE, where, text, f"one of {', '.join(options)}")
    return options[text]


def _price(text: str, where: str) -> Fraction | str | None:
    """Read a claimed number: an exact decimal, ``none`` (no such price), or "" (no claim)."""
    if text in ("", "none"):
        return None if text == "none" else ""
    num, den = parse_decimal(text, where)
    return Fraction(num, den)


# --- the check (AUDIT-8) ------------------------------------------------------------------------


def _ticks(market: Market, price: Fraction) -> Fraction:
    """Return ``price`` (quote asset) in ticks, exactly."""
    return price / Fraction(market.price_tick.num, market.price_tick.den)


def _liquidation(unit: MarginUnit, leg: int) -> int | None:
    result = get_liquidation_price(unit, leg)
    return result.price if result.status is PriceStatus.AT else None


def _with_market(unit: MarginUnit, leg: int, market: Market) -> MarginUnit:
    """Return the unit with leg ``leg`` margined by ``market``, the unit's trigger from it."""
    legs = list(unit.legs)
    legs[leg] = attrs.evolve(legs[leg], market=market)
    return attrs.evolve(unit, legs=tuple(legs), trigger=market.trigger)


def _alone(unit: MarginUnit, leg: int) -> MarginUnit:
    """Return the unit with only leg ``leg``: what a calculator that ignores the others sees."""
    return attrs.evolve(unit, legs=(unit.legs[leg],))


def _is_close(claimed: Fraction, market: Market, price: int | None, tolerance: Fraction) -> bool:
    return price is not None and abs(_ticks(market, claimed) - price) <= tolerance


def _tier_only(market: Market, tier: Tier) -> Market:
    """Return the market as a calculator sees it that applies one tier to every size."""
    whole = Tier(0, market.tiers[-1].cap, tier.mmr, tier.imr, tier.maintenance_amount)
    return attrs.evolve(market, tiers=(whole,))


def get_cause(claim: Claim, reference: PriceResult, tolerance: Fraction) -> str:
    """Return the first cause that explains a claimed liquidation price (AUDIT-8)."""
    if reference.status is PriceStatus.ALWAYS:
        return "always"
    if claim.liquidation is None or reference.price is None:
        return "no-price"
    price, claimed = reference.price, claim.liquidation
    for cause in (_by_trigger, _by_others, _by_rounding, _by_tier):
        found = cause(claim, claimed, price, tolerance)
        if found:
            return found
    return "unexplained"


def _by_trigger(claim: Claim, claimed: Fraction, price: int, tolerance: Fraction) -> str:
    """Return ``trigger`` if the claim is the price under the other trigger convention."""
    market, leg = claim.market, claim.leg
    other = Trigger.STRICT if market.trigger is Trigger.INCLUSIVE else Trigger.INCLUSIVE
    flipped = _liquidation(_with_market(claim.unit, leg, attrs.evolve(market, trigger=other)), leg)
    return "trigger" if flipped != price and _is_close(claimed, market, flipped, tolerance) else ""


def _by_others(claim: Claim, claimed: Fraction, price: int, tolerance: Fraction) -> str:
    """Return ``others`` if the claim is the price of the position alone on its wallet."""
    if len(claim.unit.legs) == 1:
        return ""
    alone = _liquidation(_alone(claim.unit, claim.leg), 0)
    return "others" if alone != price and _is_close(claimed, claim.market, alone, tolerance) else ""


def _by_rounding(claim: Claim, claimed: Fraction, price: int, tolerance: Fraction) -> str:
    """Return ``rounding`` if the claim is one tick toward safety: the root rounded up."""
    del tolerance  # exactly one tick, whatever the tolerance
    safe = price + (1 if claim.unit.legs[claim.leg].position.side > 0 else -1)
    return "rounding" if _ticks(claim.market, claimed) == safe else ""


def _by_tier(claim: Claim, claimed: Fraction, price: int, tolerance: Fraction) -> str:
    """Return ``tier N`` if the claim is the price in a market whose only tier is another."""
    market, leg = claim.market, claim.leg
    used = get_tier_index(market, get_notional(market, claim.unit.legs[leg].position, price))
    for index, tier in enumerate(market.tiers):
        only = _liquidation(_with_market(claim.unit, leg, _tier_only(market, tier)), leg)
        close = _is_close(claimed, market, only, max(tolerance, Fraction(1)))
        if index != used and only != price and close:
            return f"tier {index + 1}"
    return ""


def _agrees(claimed: Fraction | None, reference: PriceResult, market: Market,
            tolerance: Fraction) -> bool:  # fmt: skip
    """Return whether a claimed price agrees: both none (PRICE-1), or within ``tolerance``."""
    if claimed is None or reference.price is None:
        return claimed is None and reference.status is PriceStatus.NEVER
    return abs(_ticks(market, claimed) - reference.price) <= tolerance


def check_claim(claim: Claim, tolerance: Fraction) -> Verdict:
    """Return the reference's values for a claim and whether the claim agrees (AUDIT-8)."""
    market, unit = claim.market, claim.unit
    leg = unit.legs[claim.leg]
    liquidation = get_liquidation_price(unit, claim.leg)
    bankruptcy = get_bankruptcy_price(unit, claim.leg)
    maintenance = get_maintenance_margin(market, leg.position, leg.mark)
    quantum = Fraction(market.settle_quantum.num, market.settle_quantum.den)
    liq_ticks = bank_ticks = None
    if claim.liquidation is not None and liquidation.price is not None:
        liq_ticks = _ticks(market, claim.liquidation) - liquidation.price
    if isinstance(claim.bankruptcy, Fraction) and bankruptcy.price is not None:
        bank_ticks = _ticks(market, claim.bankruptcy) - bankruptcy.price
    mm_diff = None if claim.maintenance is None else claim.maintenance - maintenance * quantum
    liq_ok = _agrees(claim.liquidation, liquidation, market, tolerance)
    bank_ok = claim.bankruptcy == "" or _agrees(
        None if claim.bankruptcy is None else Fraction(claim.bankruptcy), bankruptcy, market,
        tolerance,
    )  # fmt: skip
    mm_ok = mm_diff is None or mm_diff == 0
    if not liq_ok:
        cause = get_cause(claim, liquidation, tolerance)
    else:
        cause = "bankruptcy" if not bank_ok else "maintenance" if not mm_ok else "ok"
    away = False
    if not liq_ok and claim.liquidation is not None and liquidation.price is not None:
        claimed = _ticks(market, claim.liquidation)
        away = abs(claimed - claim.entry) > abs(liquidation.price - claim.entry)
    return Verdict(claim.id, liquidation, bankruptcy, maintenance, liq_ticks, bank_ticks,
                   mm_diff, liq_ok and bank_ok and mm_ok, cause, away)  # fmt: skip
