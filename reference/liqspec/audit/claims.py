"""Checking a calculator's claimed prices against the reference (spec/16-audit.md#AUDIT-8).

Each row of a CSV is one position with the liquidation price some software shows for it, and
optionally its bankruptcy price and maintenance margin. The reference computes the exact
values (chapters 4 and 5); where the claim differs, the most common causes are tried in
turn: the other trigger convention, a rounding toward safety, and a maintenance tier chosen
from something other than the notional at the liquidation price.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import attrs
from attrs import frozen

from liqspec.base.conventions import parse_decimal, to_units
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import read_regular_file
from liqspec.model.accounts import Leg, MarginMode, MarginUnit, Side, open_position
from liqspec.model.margin import get_maintenance_margin, get_tier_index
from liqspec.model.markets import Market, Tier, Trigger, get_value
from liqspec.model.prices import PriceStatus, get_bankruptcy_price, get_liquidation_price

__all__ = ["COLUMNS", "Claim", "Verdict", "check_claim", "load_claims"]

COLUMNS = ("id", "market", "side", "size", "entry", "mode", "margin", "liquidation_price")
OPTIONAL = ("bankruptcy_price", "maintenance", "mark")
_T = TypeVar("_T")
MAX_CLAIMS_BYTES = 64 << 20
"""Largest claims file (64 MiB): some hundreds of thousands of rows."""


@frozen
class Claim:
    """One row: a position, its collateral, and the prices a calculator shows for it."""

    id: str
    market: Market
    unit: MarginUnit
    liquidation: Fraction | None
    """The claimed liquidation price in the quote asset; None for "none" (no price)."""
    bankruptcy: Fraction | None = None
    maintenance: Fraction | None = None


@frozen
class Verdict:
    """The reference's values for a claim, the differences in ticks and the likely cause."""

    id: str
    liquidation: int | None
    bankruptcy: int | None
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


def load_claims(path: Path, markets: Mapping[str, Market]) -> list[Claim]:
    """Read a claims CSV (AUDIT-8); an error names the file, the line and the column."""
    raw = read_regular_file(path, MAX_CLAIMS_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        detail = f"not UTF-8 text (byte {exc.start})"
        raise InputError(Reason.SYNTAX, "<file>", None, detail, str(path)) from exc
    try:
        return _claims(text, markets)
    except InputError as error:
        raise error.located(str(path)) from None


def _claims(text: str, markets: Mapping[str, Market]) -> list[Claim]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS + OPTIONAL]
    if unknown or missing:
        detail = f"columns {','.join(COLUMNS)}, optionally {','.join(OPTIONAL)}"
        reason = Reason.UNKNOWN_KEY if unknown else Reason.MISSING_KEY
        raise InputError(reason, "line 1", (unknown or missing)[0], detail)
    claims = []
    try:
        for number, row in enumerate(reader, start=2):
            if None in row or None in row.values():
                detail = f"{len(header)} fields, as the header has"
                raise InputError(Reason.SYNTAX, f"line {number}", None, detail)
            claims.append(_claim(row, f"line {number}", markets))
    except csv.Error as exc:
        raise InputError(Reason.SYNTAX, f"line {reader.line_num}", None, str(exc)) from None
    return claims


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
        raise InputError(Reason.OUT_OF_RANGE, f"{where}: margin", row["margin"], "not negative")
    isolated = margin if mode is MarginMode.ISOLATED else 0
    position = open_position(market, side, size, entry, margin_mode=mode, isolated_margin=isolated)
    leg = Leg(market, position, mark)
    unit = MarginUnit(row["id"], market.settle_asset, market.settle_quantum, margin, (leg,),
                      market.trigger)  # fmt: skip
    return Claim(
        row["id"],
        market,
        unit,
        _decimal(row["liquidation_price"], f"{where}: liquidation_price", allow_none=True),
        _decimal(row.get("bankruptcy_price") or "", f"{where}: bankruptcy_price"),
        _decimal(row.get("maintenance") or "", f"{where}: maintenance"),
    )


def _choice(text: str, options: Mapping[str, _T], where: str) -> _T:
    if text not in options:
        raise InputError(Reason.OUT_OF_RANGE, where, text, f"one of {', '.join(options)}")
    return options[text]


def _decimal(text: str, where: str, *, allow_none: bool = False) -> Fraction | None:
    """Read an exact decimal: empty is "not claimed"; ``none`` (liquidation) is "no price"."""
    if text == "" or (allow_none and text.lower() == "none"):
        return None
    num, den = parse_decimal(text, where)
    return Fraction(num, den)


# --- the check (AUDIT-8) ------------------------------------------------------------------------


def _ticks(market: Market, price: Fraction) -> Fraction:
    """Return ``price`` (quote asset) in ticks, exactly."""
    return price / Fraction(market.price_tick.num, market.price_tick.den)


def _liquidation(unit: MarginUnit) -> int | None:
    result = get_liquidation_price(unit, 0)
    return result.price if result.status is PriceStatus.AT else None


def _with_market(unit: MarginUnit, market: Market) -> MarginUnit:
    leg = unit.legs[0]
    return attrs.evolve(unit, legs=(attrs.evolve(leg, market=market),), trigger=market.trigger)


def _is_close(claimed: Fraction, market: Market, price: int | None, tolerance: Fraction) -> bool:
    return price is not None and abs(_ticks(market, claimed) - price) <= tolerance


def _tier_only(market: Market, tier: Tier) -> Market:
    """Return the market as a calculator sees it that applies one tier to every size."""
    whole = Tier(0, market.tiers[-1].cap, tier.mmr, tier.imr, tier.maintenance_amount)
    return attrs.evolve(market, tiers=(whole,))


def get_cause(claim: Claim, reference: int | None, tolerance: Fraction) -> str:
    """Return the first cause that explains a claimed liquidation price (AUDIT-8)."""
    market, unit, claimed = claim.market, claim.unit, claim.liquidation
    if claimed is None or reference is None:
        return "no-price"
    other = Trigger.STRICT if market.trigger is Trigger.INCLUSIVE else Trigger.INCLUSIVE
    flipped = _liquidation(_with_market(unit, attrs.evolve(market, trigger=other)))
    if flipped != reference and _is_close(claimed, market, flipped, tolerance):
        return "trigger"
    safe = reference + (1 if unit.legs[0].position.side > 0 else -1)
    if _ticks(market, claimed) == safe:
        return "rounding"
    size = unit.legs[0].position.size
    used = get_tier_index(market, get_value(market, size, reference))
    for index, tier in enumerate(market.tiers):
        price = _liquidation(_with_market(unit, _tier_only(market, tier)))
        if index != used and _is_close(claimed, market, price, max(tolerance, Fraction(1))):
            return f"tier {index + 1}"
    return "unexplained"


def check_claim(claim: Claim, tolerance: Fraction) -> Verdict:
    """Return the reference's values for a claim and whether the claim agrees (AUDIT-8)."""
    market, unit = claim.market, claim.unit
    leg = unit.legs[0]
    liquidation = _liquidation(unit)
    result = get_bankruptcy_price(unit, 0)
    bankruptcy = result.price if result.status is PriceStatus.AT else None
    maintenance = get_maintenance_margin(market, leg.position, leg.mark)
    quantum = Fraction(market.settle_quantum.num, market.settle_quantum.den)
    liq_ticks = None
    if claim.liquidation is not None and liquidation is not None:
        liq_ticks = _ticks(market, claim.liquidation) - liquidation
    bank_ticks = None
    if claim.bankruptcy is not None and bankruptcy is not None:
        bank_ticks = _ticks(market, claim.bankruptcy) - bankruptcy
    mm_diff = None if claim.maintenance is None else claim.maintenance - maintenance * quantum
    liq_ok = (claim.liquidation is None) == (liquidation is None) and (
        liq_ticks is None or abs(liq_ticks) <= tolerance
    )
    bank_ok = claim.bankruptcy is None or (bank_ticks is not None and abs(bank_ticks) <= tolerance)
    mm_ok = mm_diff is None or mm_diff == 0
    if not liq_ok:
        cause = get_cause(claim, liquidation, tolerance)
    else:
        cause = "bankruptcy" if not bank_ok else "maintenance" if not mm_ok else "ok"
    agrees = liq_ok and bank_ok and mm_ok
    return Verdict(claim.id, liquidation, bankruptcy, maintenance, liq_ticks, bank_ticks,
                   mm_diff, agrees, cause)  # fmt: skip
