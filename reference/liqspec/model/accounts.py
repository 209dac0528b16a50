"""Positions, accounts, margin units and the account file (spec/03-accounts.md)."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from attrs import frozen

from liqspec.base.conventions import Ratio, ratio_from_leverage, to_units
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import check_schema, load_document
from liqspec.model.markets import ContractKind, Market, Trigger, get_value

__all__ = [
    "Account",
    "AccountFile",
    "Leg",
    "MarginMode",
    "MarginUnit",
    "Position",
    "Side",
    "account_from_document",
    "get_entry_price",
    "get_margin_units",
    "load_account",
    "open_position",
]


class Side(enum.IntEnum):
    """The sign s of a position: +1 long, -1 short (ACCOUNT-1)."""

    LONG = 1
    SHORT = -1


class MarginMode(enum.Enum):
    """Whether a position shares the account's wallet or has its own margin (ACCOUNT-6)."""

    CROSS = "cross"
    ISOLATED = "isolated"


@frozen
class Position:
    """One open position, one-way mode (ACCOUNT-1).

    ``size`` in lots (> 0); ``entry_value`` the cost basis E in quantums, V(entry price) when
    opened (ACCOUNT-8); ``isolated_margin`` in the market's settlement quantums (isolated mode
    only); ``chosen_imr`` 1/leverage if a leverage was chosen. Build one with
    :func:`open_position`.
    """

    market: str
    side: Side
    size: int
    entry_value: int
    margin_mode: MarginMode = MarginMode.CROSS
    isolated_margin: int = 0
    chosen_imr: Ratio | None = None


@frozen
class Account:
    """An account: a wallet in one collateral asset and its positions (ACCOUNT-1)."""

    id: str
    collateral_asset: str
    collateral_quantum: Ratio
    wallet_balance: int
    positions: tuple[Position, ...]


@frozen
class Leg:
    """A position together with its market and the mark it is valued at (ACCOUNT-7)."""

    market: Market
    position: Position
    mark: int


@frozen
class MarginUnit:
    """A pool of collateral and the legs it backs: the cross pool or one isolated position.

    Every margin quantity and the liquidation trigger are evaluated per unit (ACCOUNT-7).
    """

    name: str
    asset: str
    quantum: Ratio
    collateral: int
    legs: tuple[Leg, ...]
    trigger: Trigger


@frozen
class AccountFile:
    """What an account file holds: the account and the marks it is valued at."""

    account: Account
    marks: Mapping[str, int]


def open_position(
    market: Market,
    side: Side,
    size: int,
    entry_price: int,
    *,
    margin_mode: MarginMode = MarginMode.CROSS,
    isolated_margin: int = 0,
    chosen_imr: Ratio | None = None,
) -> Position:
    """Return a position of ``size`` lots opened at ``entry_price`` ticks (ACCOUNT-8)."""
    entry_value = get_value(market, size, entry_price)
    return Position(
        market.symbol, side, size, entry_value, margin_mode, isolated_margin, chosen_imr
    )


def get_entry_price(market: Market, position: Position) -> Fraction:
    """Return the average entry price in ticks implied by the entry value (ACCOUNT-8).

    Linear: E / (size x K), exact. Inverse: size x K / E (E was rounded up, so this can sit a
    hair below the traded price).
    """
    scale = position.size * market.value_factor
    if market.contract is ContractKind.LINEAR:
        return Fraction(position.entry_value, scale)
    return Fraction(scale, position.entry_value)


def get_margin_units(
    account: Account, markets: Mapping[str, Market], marks: Mapping[str, int]
) -> tuple[MarginUnit, ...]:
    """Split an account into its margin units: cross first, then isolated in file order.

    The cross unit exists even without positions (it holds the wallet). ACCOUNT-7.
    """
    cross_legs = tuple(
        Leg(markets[p.market], p, marks[p.market])
        for p in account.positions
        if p.margin_mode is MarginMode.CROSS
    )
    trigger = cross_legs[0].market.trigger if cross_legs else Trigger.STRICT
    cross = MarginUnit(
        "cross",
        account.collateral_asset,
        account.collateral_quantum,
        account.wallet_balance,
        cross_legs,
        trigger,
    )
    units = [cross]
    for p in account.positions:
        if p.margin_mode is MarginMode.ISOLATED:
            m = markets[p.market]
            leg = Leg(m, p, marks[p.market])
            name = f"isolated {p.market}"
            units.append(
                MarginUnit(
                    name, m.settle_asset, m.settle_quantum, p.isolated_margin, (leg,), m.trigger
                )
            )
    return tuple(units)


# --- the account file --------------------------------------------------------------------------


def load_account(path: str | os.PathLike[str], markets: Mapping[str, Market]) -> AccountFile:
    """Read, check and validate an account file against ``markets`` (ACCOUNT-1..6)."""
    path = Path(path)
    try:
        return account_from_document(load_document(path), markets)
    except InputError as exc:
        raise exc.located(str(path)) from None


def account_from_document(document: dict[str, Any], markets: Mapping[str, Market]) -> AccountFile:
    """Build a validated account and its marks from a parsed account document."""
    check_schema(document, "account")
    spec = document["account"]
    collateral_asset = spec["collateral_asset"]
    positions = tuple(
        _position(row, f"positions[{i}]", markets) for i, row in enumerate(document["positions"])
    )
    _check_unique(positions)
    cross = [markets[p.market] for p in positions if p.margin_mode is MarginMode.CROSS]
    _check_cross(cross, collateral_asset)
    quantum = _collateral_quantum(collateral_asset, cross, markets)
    wallet_balance = _wallet_balance(spec["wallet_balance"], quantum)
    marks = _marks(document["marks"], positions, markets)
    account = Account(spec["id"], collateral_asset, quantum, wallet_balance, positions)
    return AccountFile(account, marks)


def _position(row: dict[str, Any], where: str, markets: Mapping[str, Market]) -> Position:
    symbol = row["market"]
    if symbol not in markets:
        known = ", ".join(sorted(markets)) or "none"
        raise InputError(
            Reason.UNKNOWN_MARKET, f"{where}.market", symbol, f"no such market loaded ({known})"
        )
    market = markets[symbol]
    size = to_units(row["size"], market.lot_size, f"{where}.size", "lot size")
    entry = to_units(row["entry_price"], market.price_tick, f"{where}.entry_price", "price tick")
    if size <= 0:
        raise InputError(Reason.OUT_OF_RANGE, f"{where}.size", row["size"], "must be positive")
    if not 0 < entry <= market.max_price:
        raise InputError(
            Reason.PRICE_OUT_OF_DOMAIN,
            f"{where}.entry_price",
            row["entry_price"],
            "must be positive and at most the market's max_price",
        )
    mode = MarginMode(row["margin_mode"])
    has_margin = "isolated_margin" in row
    if has_margin != (mode is MarginMode.ISOLATED):
        detail = "required for isolated positions and only for them"
        raise InputError(
            Reason.ISOLATED_MARGIN, f"{where}.isolated_margin", row.get("isolated_margin"), detail
        )
    margin = 0
    if has_margin:
        field = f"{where}.isolated_margin"
        margin = to_units(
            row["isolated_margin"], market.settle_quantum, field, "settlement quantum"
        )
        if margin < 0:
            raise InputError(Reason.ISOLATED_MARGIN, field, row["isolated_margin"], "negative")
    chosen_imr = None
    if "leverage" in row:
        chosen_imr = ratio_from_leverage(row["leverage"], f"{where}.leverage")
    side = Side[row["side"].upper()]
    return open_position(
        market, side, size, entry, margin_mode=mode, isolated_margin=margin, chosen_imr=chosen_imr
    )


def _check_unique(positions: tuple[Position, ...]) -> None:
    seen: set[str] = set()
    for i, p in enumerate(positions):
        if p.market in seen:
            detail = "one position per market (one-way mode)"
            raise InputError(Reason.DUPLICATE_POSITION, f"positions[{i}].market", p.market, detail)
        seen.add(p.market)


def _check_cross(cross: list[Market], collateral_asset: str) -> None:
    for market in cross:
        if market.settle_asset != collateral_asset:
            raise InputError(
                Reason.CROSS_INCOMPATIBLE,
                "account.collateral_asset",
                collateral_asset,
                f"cross position in {market.symbol} settles in {market.settle_asset}",
            )
        first = cross[0]
        if (market.settle_quantum, market.trigger) != (first.settle_quantum, first.trigger):
            raise InputError(
                Reason.CROSS_INCOMPATIBLE,
                "positions",
                market.symbol,
                f"cross markets must share settle_quantum and trigger with {first.symbol}",
            )


def _collateral_quantum(asset: str, cross: list[Market], markets: Mapping[str, Market]) -> Ratio:
    settling = [m for m in (*cross, *markets.values()) if m.settle_asset == asset]
    if not settling:
        detail = "no loaded market settles in the collateral asset"
        raise InputError(Reason.CROSS_INCOMPATIBLE, "account.collateral_asset", asset, detail)
    return settling[0].settle_quantum


def _wallet_balance(text: object, quantum: Ratio) -> int:
    field = "account.wallet_balance"
    balance = to_units(text, quantum, field, "settlement quantum")
    if balance < 0:
        raise InputError(Reason.NEGATIVE_BALANCE, field, text, "must not be negative (STATE-1)")
    return balance


def _marks(
    table: dict[str, Any], positions: tuple[Position, ...], markets: Mapping[str, Market]
) -> dict[str, int]:
    marks: dict[str, int] = {}
    for p in positions:
        market = markets[p.market]
        field = f"marks.{p.market}"
        if p.market not in table:
            raise InputError(
                Reason.MISSING_MARK, field, None, "every position's market needs a mark"
            )
        mark = to_units(table[p.market], market.price_tick, field, "price tick")
        if not 0 < mark <= market.max_price:
            detail = "must be positive and at most the market's max_price"
            raise InputError(Reason.PRICE_OUT_OF_DOMAIN, field, table[p.market], detail)
        marks[p.market] = mark
    return marks
