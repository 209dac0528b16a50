"""Building whole scenario documents from draws (spec/06-state.md#STATE-10).

:func:`scenarios` is the Hypothesis strategy: 2-50 accounts over 1-3 bundled markets, inline
as in a ``scenario`` vector (VEC-3), thin, empty or refreshed books, mark moves that put several
accounts into liquidation in one event, every policy, small funds, ADL and socialization,
halts and bands, risk adjustment with phase-in, isolated units and margin moves, and every kind
of event.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from liqspec.base.conventions import decimal_text
from liqspec.conformance.scenario_draws import (
    MAX_ACCOUNTS,
    MAX_EVENTS,
    Draw,
    HypothesisDraw,
    Listed,
    SimplestDraw,
    T,
    get_catalogue,
    is_compatible,
)
from liqspec.model.accounts import Position, Side, open_position
from liqspec.model.margin import get_maintenance_margin
from liqspec.model.markets import (
    ContractKind,
    Market,
    format_amount,
    format_price,
    format_size,
    get_value,
)

__all__ = ["GENERATION", "build_scenario", "scenarios"]

if TYPE_CHECKING:
    from hypothesis.strategies import DrawFn, SearchStrategy

# --- the builder -------------------------------------------------------------------------------


def _scaled(price: int, bp: int, market: Market) -> int:
    """Return ``price`` moved by ``bp`` basis points, on the grid and in the domain."""
    return min(market.max_price, max(1, price * (10_000 + bp) // 10_000))


def _implied(draw: Draw, symbol: str) -> dict[str, str]:
    """Return an implied-volatility event (RISK-8), ppm a mark: calm, above thresholds, wild."""
    ppm = draw.choice(["9000", "0", "2500", "40000"])
    return {"kind": "implied-volatility", "market": symbol, "volatility": ppm}


def _open_interest(draw: Draw, market: Market, mark: int) -> dict[str, str]:
    """Return an open-interest event (MARGIN-12): between, at, past and below the caps."""
    lower, upper = market.open_interest_caps
    notional = draw.choice([(lower + upper) // 2, 0, upper, lower, 10**12])
    lots = notional // max(1, get_value(market, 1, mark))
    return {"kind": "open-interest", "market": market.symbol, "size": format_size(market, lots)}


def _decimal(value: Fraction) -> str:
    """Exact decimal text of a fraction whose denominator divides a power of ten."""
    digits = 0
    while (value * 10**digits).denominator != 1:
        digits += 1
    whole = int(value * 10**digits)
    if not digits:
        return str(whole)
    text = str(abs(whole)).rjust(digits + 1, "0")
    return f"{'-' if whole < 0 else ''}{text[:-digits]}.{text[-digits:]}"


_LIQUIDATION_EXTRAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("on_unfilled", ("wait", "takeover")),
    ("chunk", ("0.5", "0.1", "1")),
    ("chunk_rounding", ("down", "up")),
    ("tier_target", ("first", "next")),
    ("cooldown", ("0", "10", "60")),
    ("buffer", ("0", "0.05", "0.2")),
    ("fee", ("0", "0.005", "0.02")),
    ("fee_limit", ("surplus",)),
    ("liquidator_fee", ("0.0005", "0.001")),
    ("liquidator_fee_step", ("0.00001",)),
    ("fee_rule", ("implied",)),
    ("limit_rule", ("fillable",)),
    ("min_step_notional", ("2", "0.5")),
    ("adl_drawdown", ("0.3", "0.05")),
    ("impact_bound", ("0.01", "0.02", "0.1")),
    ("max_step_notional", ("5", "1", "20")),
    ("dust_notional", ("0.5", "0.1", "1")),
    ("insurance_step_cap", ("0.01", "0.1")),
    ("insurance_fund", ("own",)),
)
"""Optional ``[liquidation]`` keys and their values; amounts are multiples of a unit's value."""

_BREAKERS: tuple[dict[str, Any], ...] = (
    {"band": "0.002"},
    {"halt_levels": ["0.03"], "halt_durations": ["30"]},
    {"band": "0.01"},
    {"band": "0.02", "while_halted": "continue"},
    {"halt_levels": ["0.02", "0.05"], "halt_durations": ["20", "0"], "while_halted": "pause"},
    {"halt_levels": ["0.01", "0.04", "0.08"], "halt_durations": ["10", "60", "0"],
     "while_halted": "takeover-only"},
    {"dynamic_move": "0.03", "dynamic_window": "60", "dynamic_pause": "30"},
    {"band": "0.005", "while_halted": "takeover-only"},
    {"dynamic_move": "0.01", "dynamic_window": "10", "dynamic_pause": "5",
     "while_halted": "continue"},
    {"withdrawal_block": "50"},
    {"stale_after": "20"},
    {"divergence": "0.02", "band_reference": "index", "band": "0.05"},
)  # fmt: skip
"""``[breakers]`` tables: bands, halts, the dynamic breaker, gates; a market takes 1-2 of them."""

_RISK: tuple[dict[str, str], ...] = (
    {"vol_window": "1", "vol_threshold": "2000", "slope": "0.0001", "max_multiplier": "1.5",
     "max_step": "0.1", "hysteresis": "0.01", "interval": "1"},
    {"vol_window": "2", "vol_threshold": "0", "slope": "0.00002", "max_multiplier": "1.9",
     "max_step": "0.5", "hysteresis": "0", "interval": "10"},
    {"vol_window": "4", "vol_threshold": "10000", "slope": "0.001", "max_multiplier": "1.2",
     "max_step": "0.05", "hysteresis": "0.1", "interval": "30"},
    {"vol_window": "2", "slope": "0.00002", "max_multiplier": "1.5", "max_step": "0.2",
     "interval": "10", "preempt_shock": "0.05", "preempt_threshold": "1000",
     "preempt_target": "1.4", "preempt_interval": "10"},
)  # fmt: skip
"""``[risk]`` tables (RISK-1..3, the last with RISK-7); a ``phase_in`` is drawn beside."""

_LEVELS = ((10, 1), (2, 4), (30, 1), (80, 20), (200, 4), (5, 1, 5), (50, 20, 5))
"""Book levels: (gap from the previous price in basis points, units of size[, divisor])."""

_SIZES = (3, 1, 10, 30, 2, 100, 6, 60, 20, 120, 4, 45)
"""Position sizes in thirds of a market's unit, from a third to 40 units; a big position and
smaller ones across from it make ADL go over many counterparties (INS-4)."""

_FUNDS = (Fraction(1, 100), Fraction(0), Fraction(1, 10), Fraction(1), Fraction(1000))
"""Insurance funds, in units' value: mostly small enough to run out (INS-2)."""

_AMOUNTS = (Fraction(1), Fraction(1, 10), Fraction(10), Fraction(1, 100), Fraction(100))
"""Deposits and withdrawals, in units' value."""

_TWIN = -1
_LEVERAGES = (50, 100, 20, 125, 5, 75, 10, 150, 2, 35, 0, _TWIN)
"""Equity at the start is the notional over the leverage; 0: no position; -1: a twin."""

_EVENTS = (
    "target", "mark", "move", "clock", "target", "book", "clock", "fill", "mark", "move",
    "deposit", "withdraw", "reference", "index", "trade", "parameters", "implied-volatility",
    "open-interest",
)  # fmt: skip
"""Event kinds, moves of the mark the likeliest (and first: shrinking goes there). A ``move``
is a book refreshed around a new mark, then that mark; a ``target`` the same, with the mark
where an account's starting E/MM reaches one of :data:`_RATIOS`."""

_ISOLATED_EVENTS = (*_EVENTS, "margin", "fill", "margin")
"""With isolated units drawn: margin moves (STATE-12) and more fills, some of them isolated."""

_MARGIN_SHARES = (Fraction(1, 10), Fraction(1, 2), Fraction(1, 100), Fraction(2))
"""Margin moved by an account with an isolated unit, in shares of the unit's first margin."""

_RATIOS = (Fraction(9, 10), Fraction(1, 2), Fraction(1), Fraction(0), Fraction(-1, 5))
"""E/MM aimed at: just liquidated, well below, exactly at the trigger, bankrupt, beyond."""


class _Builder:
    """Builds one scenario document from a draw, tracking marks and accounts as it goes."""

    def __init__(self, draw: Draw, name: str, generation: int) -> None:
        self.draw = draw
        self.name = name
        self.isolated = generation >= 2
        """Whether accounts may hold isolated units (STATE-11); without, no draw is spent on it."""
        self.own_funds = generation >= 2
        """Whether ``[funds]`` lists the funds the markets draw on, not only the assets' ones."""
        self.listed: list[Listed] = []
        self.marks: dict[str, int] = {}
        self.derived: set[str] = set()
        self.accounts: list[dict[str, Any]] = []
        self.assets: dict[str, Listed] = {}
        self.exposure: dict[str, tuple[int, list[tuple[Listed, Position]]]] = {}
        """Per account id: its starting balance and positions, to aim mark moves at it."""
        self.time = 0

    def pick(self, options: Sequence[T]) -> T:
        """Choose among ``options``, drawing nothing when there is one."""
        return options[0] if len(options) == 1 else self.draw.choice(options)

    # markets and their tables

    def markets(self) -> None:
        catalogue = get_catalogue()
        picks = self.draw.many(1, 3, lambda d: d.integer(0, len(catalogue) - 1))
        for index in picks:
            if is_compatible(self.listed, catalogue[index]):
                self.listed.append(catalogue[index])
        for entry in self.listed:
            self.marks[entry.market.symbol] = entry.mark
            self.assets.setdefault(entry.market.settle_asset, entry)

    def unit_value(self, entry: Listed, units: Fraction | int = 1) -> int:
        """Return the value of ``units`` typical sizes at the starting mark, in quantums."""
        return int(get_value(entry.market, entry.unit, entry.mark) * Fraction(units))

    def liquidation(self, entry: Listed) -> dict[str, str]:
        draw, market = self.draw, entry.market
        table = {"policy": draw.choice(["health", "chunk", "tier-step", "optimal"])}
        if table["policy"] == "optimal":
            table["risk_aversion"] = self.risk_aversion(entry, draw.choice(["10", "100", "1000"]))
        if draw.flag(40):
            table["deleveraging"] = draw.choice(["socialize", "adl", "bilateral"])
        for key, values in draw.many(0, 3, lambda d: d.choice(_LIQUIDATION_EXTRAS)):
            value = self.pick(values)
            if key == "insurance_fund":
                value = f"{market.symbol}-fund"
            elif key.endswith(("_notional", "_cap")):
                value = format_amount(market, self.unit_value(entry, Fraction(value)))
            elif key == "limit_rule" and market.contract is not ContractKind.LINEAR:
                continue  # the fillable-price rule is for linear markets (LIQ-13)
            elif key == "adl_drawdown":  # the fund's floor under its recent peak (INS-8)
                table["adl_window"] = self.pick(("60", "0", "600"))
            elif key == "fee_limit":  # the fund takes the whole surplus (LIQ-8)
                table["fee"] = "1"
            elif key == "liquidator_fee_step":  # a ramp after a grace, to a cap (LIQ-12)
                table.update(liquidator_fee_grace="20", liquidator_fee_max="0.003")
                table.setdefault("liquidator_fee", "0.0005")
            table[key] = value
        return table

    def risk_aversion(self, entry: Listed, scale: str) -> str:
        """LIQ-11's lambda: ``scale`` over a unit's value, to its leading digit, as decimal text.

        So the risk term of a typical position is about scale x sigma^2 x tau x its value,
        whatever the asset, comparable with its impact cost.
        """
        quantum = entry.market.settle_quantum
        value, exponent = Fraction(self.unit_value(entry) * quantum.num, quantum.den), 0
        while value >= 10:
            value, exponent = value / 10, exponent + 1
        while value < 1:
            value, exponent = value * 10, exponent - 1
        aversion = Fraction(scale) / Fraction(10) ** exponent
        return decimal_text(aversion.numerator, aversion.denominator)

    def book(self, entry: Listed, mark: int) -> dict[str, list[list[str]]]:
        draw, market = self.draw, entry.market
        shape = draw.choice(["thin", "deep", "empty", "bids", "asks"])
        sides: dict[str, list[list[str]]] = {"bids": [], "asks": []}
        for side, sign in (("bids", -1), ("asks", 1)):
            if shape == "empty" or shape == {"bids": "asks", "asks": "bids"}[side]:
                continue
            price = mark
            for _ in range(1 if shape == "thin" else draw.integer(1, 4)):
                gap, units, *divisor = draw.choice(_LEVELS)
                moved = _scaled(price, sign * gap, market)
                price = moved if moved != price else price + sign
                if not 1 <= price <= market.max_price:
                    break
                lots = max(1, entry.unit * units // (divisor[0] if divisor else 1))
                sides[side].append([format_price(market, price), format_size(market, lots)])
        return sides

    # accounts

    def account(self, draw: Draw) -> dict[str, Any]:
        # Few draws, and the same whatever came before: shrinking deletes an account by
        # deleting its draws (at most five in a row for a one-market account).
        leverage = draw.choice(_LEVERAGES)
        account_id = f"a{len(self.accounts)}"
        if leverage == _TWIN:  # the same E/MM as an earlier account: ties go by id (LIQ-3)
            index = draw.integer(0, MAX_ACCOUNTS - 1)
            if self.accounts:
                account = copy.deepcopy(self.accounts[index % len(self.accounts)])
                self.exposure[account_id] = self.exposure[account["id"]]
            else:
                account = self.fresh_account(SimplestDraw(), _LEVERAGES[0], account_id)
        else:
            account = self.fresh_account(draw, leverage, account_id)
        account["id"] = account_id
        self.accounts.append(account)
        return account

    def fresh_account(self, draw: Draw, leverage: int, account_id: str) -> dict[str, Any]:
        groups: dict[tuple[str, str], list[Listed]] = {}
        for entry in self.listed:
            key = (entry.market.settle_asset, entry.market.trigger.value)
            groups.setdefault(key, []).append(entry)
        asset, _ = key = self.pick(sorted(groups))
        entries = groups[key]
        if len(entries) > 1:
            entries = [e for e in entries if draw.flag(70)] or entries[:1]
        positions, notional, pnl, legs = [], 0, 0, []
        for entry in entries if leverage else []:
            market, mark = entry.market, entry.mark
            signed = draw.integer(1 - len(_SIZES), len(_SIZES) - 1)  # below zero a short
            size = max(1, entry.unit * _SIZES[abs(signed)] // 3)
            entry_price = _scaled(mark, draw.integer(-300, 300), market)
            direction = (1 if signed >= 0 else -1) * (
                1 if market.contract is ContractKind.LINEAR else -1
            )
            legs.append((entry, open_position(
                market, Side.LONG if signed >= 0 else Side.SHORT, size, entry_price
            )))  # fmt: skip
            value = get_value(market, size, mark)
            notional += value
            pnl += direction * (value - get_value(market, size, entry_price))
            positions.append({
                "market": market.symbol, "side": "long" if signed >= 0 else "short",
                "size": format_size(market, size), "entry_price": format_price(market, entry_price),
            })  # fmt: skip
        if positions and self.isolated and draw.flag(30):
            return self.isolated_account(account_id, asset, positions, legs, leverage)
        # equity at the starting mark: the notional over the leverage; no position: 20 units
        balance = notional // leverage - pnl if positions else self.unit_value(entries[0], 20)
        self.exposure[account_id] = (max(0, balance), legs)
        account: dict[str, Any] = {
            "id": "", "asset": asset,
            "balance": format_amount(self.assets[asset].market, max(0, balance)),
        }  # fmt: skip
        if positions:
            account["positions"] = positions
        return account

    def isolated_account(
        self,
        account_id: str,
        asset: str,
        positions: list[dict[str, str]],
        legs: list[tuple[Listed, Position]],
        leverage: int,
    ) -> dict[str, Any]:
        """Every position isolated, each with its notional over the leverage as equity."""
        margins = []
        for row, (entry, held) in zip(positions, legs, strict=True):
            market, mark = entry.market, entry.mark
            direction = int(held.side) * (1 if market.contract is ContractKind.LINEAR else -1)
            value = get_value(market, held.size, mark)
            margin = max(0, value // leverage - direction * (value - held.entry_value))
            row.update(margin_mode="isolated", isolated_margin=format_amount(market, margin))
            margins.append(margin)
        self.exposure[account_id] = (margins[0], legs[:1])
        first = legs[0][0]
        return {"id": "", "asset": asset, "positions": positions,
                "balance": format_amount(first.market, self.unit_value(first, 5))}  # fmt: skip

    # events

    def events(self, draw: Draw) -> list[dict[str, Any]]:
        """One event, or a book refreshed around where the mark then moves (a ``move``)."""
        kind = draw.choice(_ISOLATED_EVENTS if self.isolated else _EVENTS)
        if kind not in {"move", "target"}:
            return [self.event(draw, kind)]
        entry = self.pick(self.listed)
        symbol = entry.market.symbol
        price = _scaled(self.marks[symbol], draw.choice([-50, -100, -200, 50, -400]), entry.market)
        if kind == "target":
            aimed = self.aim(draw.choice(self.accounts)["id"], draw.choice(_RATIOS))
            entry, price = aimed or (entry, price)
            symbol = entry.market.symbol
        book = {"kind": "book", "market": symbol, **self.book(entry, price)}
        if symbol not in self.derived:
            self.marks[symbol] = price
        return [
            book,
            {"kind": "mark", "market": symbol, "price": format_price(entry.market, price)},
        ]

    def aim(self, account_id: str, ratio: Fraction) -> tuple[Listed, int] | None:
        """Return the account's first market and where to move its mark to liquidate it.

        That is the mark nearest the current one at which the account's starting equity is
        ``ratio`` x MM or less, the other marks as they are; None for no position.
        """
        balance, legs = self.exposure[account_id]
        if not legs:
            return None
        entry, position = legs[0]
        market, mark = entry.market, self.marks[entry.market.symbol]

        def healthy(price: int) -> bool:
            equity, maintenance = balance, 0
            for leg, held in legs:
                at = price if leg is entry else self.marks[leg.market.symbol]
                linear = leg.market.contract is ContractKind.LINEAR
                value = get_value(leg.market, held.size, at)
                equity += int(held.side) * (1 if linear else -1) * (value - held.entry_value)
                maintenance += get_maintenance_margin(leg.market, held, at)
            return equity > ratio * maintenance

        far = mark // 2 if position.side is Side.LONG else min(market.max_price, mark * 3 // 2)
        if not healthy(mark) or healthy(far):
            return entry, mark if not healthy(mark) else far
        near = mark  # healthy at near, not at far: bisect the ticks in between
        while abs(far - near) > 1:
            middle = (near + far) // 2
            near, far = (middle, far) if healthy(middle) else (near, middle)
        return entry, far

    def event(self, draw: Draw, kind: str) -> dict[str, Any]:  # noqa: PLR0911 - one per kind
        if kind == "clock":
            self.time += draw.choice([10, 1, 30, 5, 60, 0, 120, 600])
            return {"kind": "clock", "time": str(self.time)}
        if kind in {"deposit", "withdraw"}:
            return self.money(draw, kind)
        entry = self.pick(self.listed)
        if kind == "margin":
            return self.margin(draw, entry)
        market, symbol = entry.market, entry.market.symbol
        mark = self.marks[symbol]
        if kind == "mark":
            bp = draw.choice([-300, -100, -600, 150, -1000, 300, -50, 600, -1500])
            price = _scaled(mark, bp + draw.integer(-20, 20), market)
            if symbol not in self.derived:
                self.marks[symbol] = price
            return {"kind": "mark", "market": symbol, "price": format_price(market, price)}
        if kind == "book":
            return {"kind": "book", "market": symbol, **self.book(entry, mark)}
        if kind == "fill":
            return self.fill(draw, entry, mark)
        if kind == "reference":
            return {"kind": "reference", "market": symbol, "price": format_price(market, mark)}
        if kind == "parameters":
            return {"kind": "parameters", "market": symbol, "file": self.parameters(draw, entry)}
        if kind in {"implied-volatility", "open-interest"}:  # RISK-8, MARGIN-12
            return (
                _implied(draw, symbol)
                if kind == "implied-volatility"
                else _open_interest(draw, market, mark)
            )
        price = _scaled(mark, draw.choice([0, -100, 100, -800]), market)
        if kind == "trade":
            return {"kind": "trade", "market": symbol, "price": format_price(market, price)}
        if symbol in self.derived:
            self.marks[symbol] = price
        basis = draw.choice(["0", "0.0001", "-0.0005", "0.002"])
        return {"kind": "index", "market": symbol, "price": format_price(market, price),
                "basis": basis}  # fmt: skip

    def money(self, draw: Draw, kind: str) -> dict[str, Any]:
        account = draw.choice(self.accounts)
        account_id, asset = account["id"], account["asset"]
        entry = self.assets[asset]
        amount = self.unit_value(entry, draw.choice(_AMOUNTS))
        if draw.flag(10):  # a deposit opens a new account, a withdrawal names an unknown one
            account_id = f"new{self.time}"
        others = sorted(set(self.assets) - {asset})
        if others and draw.flag(5):  # an asset the account does not hold (cross-incompatible)
            asset = draw.choice(others)
        return {"kind": kind, "account": account_id, "asset": asset,
                "amount": format_amount(entry.market, max(1, amount))}  # fmt: skip

    def margin(self, draw: Draw, entry: Listed) -> dict[str, Any]:
        """Move margin into or out of an isolated unit, mostly of an account that holds one.

        A holder moves a share of its unit's starting margin, so that removals often pass.
        """
        holders = self.holders(entry)
        account = draw.choice(holders if holders and draw.flag(70) else self.accounts)
        kind = draw.choice(["add-margin", "remove-margin"])
        amount = self.unit_value(entry, draw.choice(_AMOUNTS))
        for p in account.get("positions", []):
            if p["market"] == entry.market.symbol and p.get("margin_mode") == "isolated":
                quantum = entry.market.settle_quantum
                margin = Fraction(p["isolated_margin"]) * quantum.den / quantum.num
                amount = int(margin * draw.choice(_MARGIN_SHARES))
        return {"kind": kind, "account": account["id"], "market": entry.market.symbol,
                "amount": format_amount(entry.market, max(1, amount))}  # fmt: skip

    def fill(self, draw: Draw, entry: Listed, mark: int) -> dict[str, Any]:
        market = entry.market
        account = draw.choice(self.accounts)
        price = _scaled(mark, draw.choice([0, 10, -10, 60, -60, 400, -400]), market)
        lots = entry.unit * draw.choice([1, 5, 20, 3]) // 3
        fill = {
            "kind": "fill", "account": account["id"], "market": market.symbol,
            "side": draw.choice(["buy", "sell"]), "size": format_size(market, max(1, lots)),
            "price": format_price(market, price),
        }  # fmt: skip
        if self.isolated and draw.flag(40):  # mostly by an account with a unit there
            fill["margin"] = "isolated"
            holders = self.holders(entry)
            if holders and draw.flag(70):
                fill["account"] = draw.choice(holders)["id"]
        return fill

    def holders(self, entry: Listed) -> list[dict[str, Any]]:
        """Return the accounts that start with an isolated position in ``entry``'s market."""
        return [a for a in self.accounts if any(
            p["market"] == entry.market.symbol and p.get("margin_mode") == "isolated"
            for p in a.get("positions", []))]  # fmt: skip

    def parameters(self, draw: Draw, entry: Listed) -> dict[str, Any]:
        """RISK-5: the market file changed by an operator (margins up or down, a new policy)."""
        document = copy.deepcopy(entry.document)
        change = draw.choice(["margins-up", "policy", "margins-down", "phase-in", "invalid"])
        factor = {"margins-up": Fraction(5, 4), "margins-down": Fraction(4, 5)}.get(change)
        if change == "phase-in":
            document["risk"] = {"phase_in": draw.choice(["30", "300"])}
            factor = Fraction(3, 2)
        if factor is not None:  # every rate scaled: still non-decreasing, amounts re-derived
            for tier in document["tiers"]:
                tier["mmr"] = _decimal(Fraction(tier["mmr"]) * factor)
                tier.pop("maintenance_amount", None)
        if change == "policy":
            document["liquidation"] = {"policy": draw.choice(["chunk", "health", "tier-step"])}
        if change == "invalid":  # IMR below MMR (MARKET-8): a rejected event
            document["tiers"][0]["mmr"] = "0.9"
        return document

    # the whole document

    def build(self) -> dict[str, Any]:
        draw = self.draw
        self.markets()
        document: dict[str, Any] = {
            "format": 1,
            "scenario": {
                "name": self.name,
                "description": "drawn by liqspec's scenario fuzzer",
                "markets": [copy.deepcopy(e.document) for e in self.listed],
            },
        }
        tables: dict[str, dict[str, Any]] = {
            "liquidation": {}, "breakers": {}, "risk": {}, "mark": {}, "books": {},
        }  # fmt: skip
        for entry in self.listed:
            symbol = entry.market.symbol
            if draw.flag(85):
                tables["liquidation"][symbol] = self.liquidation(entry)
            if draw.flag(45):
                chosen = draw.many(1, 2, lambda d: d.choice(_BREAKERS))
                tables["breakers"][symbol] = {k: v for table in chosen for k, v in table.items()}
            optimal = tables["liquidation"].get(symbol, {}).get("policy") == "optimal"
            if draw.flag(75 if optimal else 25):  # optimal reads the volatility (LIQ-11)
                risk = dict(draw.choice(_RISK))
                risk["phase_in"] = draw.choice(["60", "0", "20"])
                if draw.flag(50):  # RISK-8: an implied feed may drive the multiplier
                    risk["source"] = draw.choice(["max", "implied"])
                    risk["implied_max_age"] = draw.choice(["300", "30"])
                tables["risk"][symbol] = risk
            if draw.flag(8):
                tables["mark"][symbol] = draw.choice([
                    {"source": "median", "basis_window": "3"}, {"source": "clamped"},
                    {"source": "median", "basis_window": "1"},
                    {"source": "clamped", "fair_band": "0.01"},
                    {"source": "median", "basis": "ema", "ema_decay": "0.9"},
                ])  # fmt: skip
                self.derived.add(symbol)
            tables["books"][symbol] = self.book(entry, entry.mark)
        document.update({key: table for key, table in tables.items() if table})
        # A risk adjustment needs `interval` after the start: the events open with a clock.
        lead = []
        if tables["risk"]:  # and a market that reads an implied feed (RISK-8) gets one then
            self.time = 100
            lead = [{"kind": "clock", "time": "100"}]
            lead += [_implied(draw, symbol) for symbol, risk in tables["risk"].items()
                     if "source" in risk and draw.flag(50)]  # fmt: skip
        elif draw.flag(15):
            self.time = 1000
            document["scenario"]["time"] = str(self.time)
        if draw.flag(85):
            document["funds"] = {
                fund: format_amount(entry.market, self.unit_value(entry, draw.choice(_FUNDS)))
                for fund, entry in self.funds(tables["liquidation"])
            }
        document["marks"] = {e.market.symbol: format_price(e.market, e.mark) for e in self.listed}
        self.draw.many(2, MAX_ACCOUNTS, self.account)
        document["accounts"] = self.accounts
        drawn = self.draw.many(1, MAX_EVENTS, self.events)
        document["events"] = [*lead, *(event for events in drawn for event in events)]
        if draw.flag(3):
            self.corrupt(document)
        return document

    def funds(self, liquidation: dict[str, dict[str, str]]) -> list[tuple[str, Listed]]:
        """Return the funds to give balances (INS-1), each with a market that draws on it."""
        if not self.own_funds:  # the assets' funds, even where every market has its own
            return sorted(self.assets.items())
        drawn: dict[str, Listed] = {}
        for entry in self.listed:
            symbol = entry.market.symbol
            fund = liquidation.get(symbol, {}).get("insurance_fund", entry.market.settle_asset)
            drawn.setdefault(fund, entry)
        return sorted(drawn.items())

    def corrupt(self, document: dict[str, Any]) -> None:
        """Break the file in one of a few ways: the reference rejects it whole (STATE-10)."""
        symbol = self.listed[0].market.symbol
        how = self.draw.choice(["off-grid", "zero-size", "crossed", "unknown-mark", "halts"])
        if how == "off-grid":
            document["marks"][symbol] += ".0000000001"
        elif how == "zero-size":
            document["accounts"][0]["positions"] = [
                {"market": symbol, "side": "long", "size": "0", "entry_price": "1"}
            ]
        elif how == "crossed":
            price = document["marks"][symbol]
            document["books"][symbol] = {"bids": [[price, "1"]], "asks": [[price, "1"]]}
        elif how == "unknown-mark":
            document["marks"]["NOSUCH"] = "1"
        else:
            document.setdefault("breakers", {})[symbol] = {
                "halt_levels": ["0.05", "0.02"], "halt_durations": ["1", "1"],
            }  # fmt: skip


GENERATION = 2
"""The builder's current generation: 2 draws isolated units and margin moves (STATE-11, STATE-12)
and gives every fund a market draws on a balance; 1 is the builder before them, which draws the
seeded vectors of seed 1 exactly as they were drawn."""


def build_scenario(draw: Draw, name: str, generation: int = GENERATION) -> dict[str, Any]:
    """Build one scenario document, every choice read from ``draw``, as ``generation`` did."""
    return _Builder(draw, name, generation).build()


def scenarios(name: str = "fuzz") -> SearchStrategy[dict[str, Any]]:
    """Return a Hypothesis strategy of scenario documents with their markets inline (VEC-3).

    JSON-ready: every number is decimal text on its market's grid. Most documents load; a few
    are broken on purpose (a file-level rejection). Shrinking goes toward one market, two
    accounts, one event and the first of every list of choices.
    """
    from hypothesis import strategies as st  # noqa: PLC0415 - only the fuzzer loads Hypothesis

    integers: dict[tuple[int, int], SearchStrategy[int]] = {}

    @st.composite
    def scenario(draw: DrawFn) -> dict[str, Any]:
        return build_scenario(HypothesisDraw(draw, integers), name)

    return scenario()
