"""Pins of the rejections and edge rules: chapters 6 (STATE-8), 10, 11 and 12."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from liqspec.conformance.pins import (
    Output,
    Pin,
    market,
    position,
    records,
    records_of,
    scenario,
    step,
)

__all__ = ["PINS"]

_BTC = "BTCUSDT"
_COIN_M = "BTCUSD_PERP"
_CYBER = "CYBERUSDT"

Row = dict[str, Any]


# --- builders ----------------------------------------------------------------------------------


def _event(kind: str, expect: str | None = None, **fields: Any) -> Row:
    row: Row = {"kind": kind, **fields}
    if expect:
        row["expect"] = expect
    return row


def _mark(price: str, symbol: str = _BTC, expect: str | None = None) -> Row:
    return _event("mark", expect, market=symbol, price=price)


def _clock(time: int) -> Row:
    return _event("clock", time=str(time))


def _reference(price: str) -> Row:
    return _event("reference", market=_BTC, price=price)


def _index(price: str, basis: str = "0", expect: str | None = None) -> Row:
    return _event("index", expect, market=_BTC, price=price, basis=basis)


def _fill(
    account: str, size: str, price: str, symbol: str = _BTC, expect: str | None = None
) -> Row:
    return _event(
        "fill", expect, account=account, market=symbol, side="buy", size=size, price=price
    )


def _money(
    kind: str, account: str, amount: str, asset: str = "USDT", expect: str | None = None
) -> Row:
    return _event(kind, expect, account=account, asset=asset, amount=amount)


def _cash(account: str, balance: str = "100000", asset: str = "USDT") -> Row:
    return {"id": account, "asset": asset, "balance": balance}


def _long(
    account: str, balance: str, symbol: str = _BTC, size: str = "1", entry: str = "60000"
) -> Row:
    return {**_cash(account, balance), "positions": [position(symbol, "long", size, entry)]}


def _short(account: str, balance: str, size: str = "1", entry: str = "60000") -> Row:
    return {**_cash(account, balance), "positions": [position(_BTC, "short", size, entry)]}


def _bust(account: str = "bob") -> Row:
    """1 BTC long from 60000 on 100 USDT: a mark of 59800 leaves it 100 USDT below zero."""
    return _long(account, "100")


_LONGTAIL = "LONGTAIL-USD"

_START = {_BTC: "60000", _COIN_M: "60000", _CYBER: "1", _LONGTAIL: "1"}
"""The usual starting mark of each market a pin loads."""


def _world(
    slug: str,
    accounts: list[Row],
    events: list[Row],
    markets: list[Row] | None = None,
    **tables: Any,
) -> Row:
    """Return a scenario of ``markets`` (BTCUSDT alone by default), each at its usual mark."""
    markets = markets or [market()]
    marks = {m["market"]["symbol"]: _START[m["market"]["symbol"]] for m in markets}
    return scenario(slug, markets, accounts, events, marks=tables.pop("marks", marks), **tables)


def _coin_m() -> Row:
    return market("binance-btcusd-coinm-2024")


def _cyber(**tables: Row) -> Row:
    return market("binance-cyberusdt-2023-08-31", **tables)


def _phase_in_change(mmr: str, leverage: str, phase_in: str) -> Row:
    """Return a parameters event: BTCUSDT with one tier (``_one_tier``), this phase-in."""
    return _event(
        "parameters", market=_BTC, file=_one_tier(mmr, leverage, risk={"phase_in": phase_in})
    )


def _one_tier(mmr: str, max_leverage: str, risk: Row) -> Row:
    """BTCUSDT with one tier for every notional: a parameter set that raises the margins."""
    document = market(risk=risk)
    document["tiers"] = [
        {"floor": "0", "cap": "1800000000", "mmr": mmr, "max_leverage": max_leverage}
    ]
    return document


def _eleven_accounts() -> list[Row]:
    """Return accounts a0..a10: a2 lacks asset and balance, a10 has an unknown key."""
    accounts = [_cash(f"a{i}") for i in range(11)]
    accounts[2] = {"id": "a2"}
    accounts[10]["colour"] = "red"
    return accounts


_MEDIAN = {"source": "median"}

_HALT_AND_BAND = {"halt_levels": ["0.05"], "halt_durations": ["100"], "band": "0.01"}
"""A 5% move halts BTCUSDT for 100; fills must be within 1% of the mark."""

_RISING = {"vol_window": "1", "slope": "0.00001", "max_multiplier": "1.5"}
"""One 10% return (100,000 ppm) gives the target 1.5: every evaluation raises the multiplier."""


# --- reading the output ------------------------------------------------------------------------


def _reasons(out: Output) -> list[str | None]:
    """Per step, its rejection reason or None."""
    return [s["rejected"]["reason"] if s["rejected"] else None for s in out.get("steps", ())]


def _kinds(out: Output, index: int) -> list[str]:
    return [r["kind"] for r in step(out, index)["records"] or ()]


def _trips(out: Output, index: int) -> list[str]:
    return [r["breaker"] for r in records(out, index, "breaker-tripped")]


def _adjusted_at(out: Output) -> list[int]:
    """Return the steps that emitted a ``risk-adjusted`` record."""
    return [s["index"] for s in out["steps"] if "risk-adjusted" in _kinds(out, s["index"])]


def _started(out: Output, index: int) -> dict[str, list[str]]:
    """Account → the markets of its ``liquidation-started`` record at step ``index``."""
    return {r["account"]: sorted(r["marks"]) for r in records(out, index, "liquidation-started")}


def _final(out: Output, account: str) -> Output:
    found: Output = next(a for a in out["final"]["accounts"] if a["account"] == account)
    return found


def _order_pin(
    slug: str,
    description: str,
    rules: tuple[str, ...],
    accounts: list[Row],
    events: list[Row],
    *,
    markets: list[Row] | None = None,
    features: tuple[str, ...] = (),
    **tables: Any,
) -> Pin:
    """Return a pin whose last event breaks two checks and is rejected by the first (expect)."""
    reason = events[-1]["expect"]
    applied = [None] * (len(events) - 1)
    return Pin(
        slug,
        description,
        ("STATE-8", *rules),
        _world(slug, accounts, events, markets, **tables),
        lambda out: _reasons(out) == [*applied, reason],
        ("negative", *features),
    )


def _file_pin(
    slug: str, description: str, rules: tuple[str, ...], reason: str, document: Row
) -> Pin:
    """Return a pin whose scenario file is rejected as a whole, with ``reason``."""
    return Pin(
        slug, description, rules, document, lambda out: out.get("error") == reason, ("negative",)
    )


# --- chapter 6: the order of the checks (STATE-8) and what rejects a file (CONV-10) ------------

_ORDER_PINS = [
    Pin(
        "state5-withdrawal-down-to-initial-margin",
        "a withdrawal that leaves equity exactly at the initial margin (600 on a 1 BTC long "
        "at 60000) is applied; one quantum more is refused with insufficient-margin",
        ("STATE-5", "MARGIN-6"),
        _world(
            "state5-withdrawal-down-to-initial-margin",
            [_long("alice", "1000")],
            [
                _money("withdraw", "alice", "400"),
                _money("withdraw", "alice", "0.00000001", expect="insufficient-margin"),
            ],
        ),
        lambda out: _reasons(out) == [None, "insufficient-margin"],
        ("boundary",),
    ),
    _order_pin(
        "state8-gated-and-over-margin-is-blocked",
        "a withdrawal that is both gated and over the margin is rejected withdrawals-blocked: "
        "the gate is checked before the margin",
        ("BRK-5", "STATE-5"),
        [_bust(), _cash("carol")],
        [_mark("59800"), _money("withdraw", "carol", "200000", expect="withdrawals-blocked")],
        markets=[market(breakers={"withdrawal_block": "100"})],
        features=("breakers",),
        books={_BTC: {"bids": [], "asks": []}},
        liquidation={_BTC: {"on_unfilled": "takeover"}},
    ),
    _order_pin(
        "state8-withdraw-unknown-account-before-amount",
        "a withdrawal of 0 by an account that does not exist is rejected unknown-account, "
        "not not-positive-amount",
        ("STATE-4", "STATE-5"),
        [_cash("carol")],
        [_money("withdraw", "nobody", "0", expect="unknown-account")],
    ),
    _order_pin(
        "state8-withdraw-amount-before-asset",
        "a withdrawal of 0 BTC from a USDT account is rejected not-positive-amount, "
        "not cross-incompatible",
        ("STATE-4", "STATE-5"),
        [_cash("carol")],
        [_money("withdraw", "carol", "0", "BTC", expect="not-positive-amount")],
        markets=[market(), _coin_m()],
    ),
    _order_pin(
        "state8-withdraw-asset-before-gate",
        "while USDT withdrawals are blocked, a BTC account withdrawing USDT is rejected "
        "cross-incompatible, not withdrawals-blocked",
        ("STATE-5", "BRK-5"),
        [_bust(), _cash("dave", "1", "BTC")],
        [_mark("59800"), _money("withdraw", "dave", "1", expect="cross-incompatible")],
        markets=[market(breakers={"withdrawal_block": "100"}), _coin_m()],
        features=("breakers",),
    ),
    _order_pin(
        "state8-deposit-amount-before-asset",
        "a deposit of 0 BTC into a USDT account is rejected not-positive-amount, "
        "not cross-incompatible",
        ("STATE-4",),
        [_cash("carol")],
        [_money("deposit", "carol", "0", "BTC", expect="not-positive-amount")],
        markets=[market(), _coin_m()],
    ),
    _order_pin(
        "state8-fill-unknown-account-before-size",
        "a fill of size 0 by an account that does not exist is rejected unknown-account, "
        "not price-out-of-domain",
        ("STATE-6",),
        [_cash("carol")],
        [_fill("nobody", "0", "60000", expect="unknown-account")],
    ),
    _order_pin(
        "state8-fill-settlement-before-price",
        "a USDT account's fill at price 0 in a BTC-settled market is rejected "
        "cross-incompatible, not price-out-of-domain",
        ("STATE-6",),
        [_cash("carol")],
        [_fill("carol", "1", "0", _COIN_M, expect="cross-incompatible")],
        markets=[market(), _coin_m()],
    ),
    _order_pin(
        "state8-fill-size-before-halted",
        "a fill of size 0 in a halted market is rejected price-out-of-domain, not halted",
        ("STATE-6", "BRK-6"),
        [_cash("carol")],
        [_mark("56000"), _fill("carol", "0", "56000", expect="price-out-of-domain")],
        markets=[market(breakers=_HALT_AND_BAND)],
        features=("breakers",),
    ),
    _order_pin(
        "state8-fill-halted-before-outside-band",
        "a fill in a halted market at a price outside the band is rejected halted, "
        "not outside-band",
        ("BRK-6", "BRK-1"),
        [_cash("carol")],
        [_mark("56000"), _fill("carol", "0.1", "60000", expect="halted")],
        markets=[market(breakers=_HALT_AND_BAND)],
        features=("breakers",),
    ),
    _order_pin(
        "state8-fill-outside-band-before-margin",
        "a fill outside the band that would also leave equity below the initial margin is "
        "rejected outside-band, not insufficient-margin",
        ("BRK-1", "STATE-6"),
        [_cash("poor", "10")],
        [_fill("poor", "1", "61000", expect="outside-band")],
        markets=[market(breakers={"band": "0.01"})],
        features=("breakers",),
    ),
    _order_pin(
        "state8-mark-price-before-mark-derived",
        "a mark event at price 0 for a market that derives its mark is rejected "
        "price-out-of-domain, not mark-derived",
        ("STATE-3", "MARK-1"),
        [],
        [_mark("0", expect="price-out-of-domain")],
        markets=[market(mark=_MEDIAN)],
        features=("median",),
    ),
]


def _book(bids: list[list[str]], asks: list[list[str]], expect: str | None = None) -> Row:
    return _event("book", expect, market=_BTC, bids=bids, asks=asks)


def _boundary_pin(
    slug: str, description: str, rules: tuple[str, ...], balance: str, events: list[Row]
) -> Pin:
    """Return a pin of events on both sides of one bound.

    Each event is applied or rejected as its ``expect`` says, and nothing else is rejected.
    """
    wanted = [event.get("expect") for event in events]
    return Pin(
        slug,
        description,
        rules,
        _world(slug, [_cash("carol", balance)], events),
        lambda out: _reasons(out) == wanted,
        ("boundary",),
    )


_BOUNDARY_PINS = [
    _boundary_pin(
        "state6-fill-down-to-initial-margin",
        "a 1 BTC buy at 60000 on 600 USDT leaves equity exactly at its initial margin and is "
        "applied; one more lot is refused (insufficient-margin)",
        ("STATE-6", "MARGIN-6"),
        "600",
        [
            _fill("carol", "1", "60000"),
            _fill("carol", "0.001", "60000", expect="insufficient-margin"),
        ],
    ),
    _boundary_pin(
        "state6-fill-price-of-one-tick",
        "a fill at one tick (0.1) is in the price domain; a fill at 0 is not",
        ("STATE-6", "CONV-3"),
        "100000",
        [
            _fill("carol", "0.001", "0.1"),
            _fill("carol", "0.001", "0", expect="price-out-of-domain"),
        ],
    ),
    _boundary_pin(
        "mark1-index-and-trade-at-one-tick",
        "index and trade prices of one tick are applied; a trade at 0 is refused",
        ("MARK-1", "STATE-8"),
        "100000",
        [
            _index("0.1"),
            _event("trade", market=_BTC, price="0.1"),
            _event("trade", "price-out-of-domain", market=_BTC, price="0"),
        ],
    ),
    _boundary_pin(
        "state2-bid-equal-to-ask-is-crossed",
        "a book whose best bid equals its best ask is crossed (bad-book); one tick apart it "
        "is applied",
        ("STATE-2", "STATE-3"),
        "100000",
        [
            _book([["60000", "1"]], [["60000", "1"]], expect="bad-book"),
            _book([["59999.9", "1"]], [["60000", "1"]]),
        ],
    ),
    _boundary_pin(
        "state2-book-level-at-max-price",
        "a book level at max_price is applied; one tick above it is refused (bad-book)",
        ("STATE-2", "STATE-3"),
        "100000",
        [
            _book([["10000000", "1"]], []),
            _book([], [["10000000.1", "1"]], expect="bad-book"),
        ],
    ),
]


def _gate_pin(
    slug: str,
    description: str,
    breakers: Row,
    *,
    start: str,
    events: list[Row],
    reasons: list[list[str]],
) -> Pin:
    """Return a pin of alice (1 BTC long from 60000 on 700 USDT) under a BRK-6 gate.

    ``reasons`` lists, per event, the reasons of its liquidation-waiting records.
    """
    document = _world(
        slug,
        [_long("alice", "700")],
        events,
        [market(breakers=breakers)],
        marks={_BTC: start},
        books={_BTC: {"bids": [["58990", "5"]], "asks": []}},
    )
    return Pin(
        slug,
        description,
        ("BRK-6", "LIQ-10"),
        document,
        lambda out: (
            [
                [r["reason"] for r in records(out, i, "liquidation-waiting")]
                for i in range(len(events))
            ]
            == reasons
        ),
        ("breakers",),
    )


_GATE_PINS = [
    _gate_pin(
        "brk6-divergence-holds-the-step",
        "a mark 1.67% from the index, with divergence 1%, holds alice's step (waiting, reason "
        "divergence); an index within 1% of the mark releases it",
        {"divergence": "0.01"},
        start="60000",
        events=[_index("60000"), _mark("59000"), _index("59500")],
        reasons=[[], ["divergence"], []],
    ),
    _gate_pin(
        "brk6-stale-mark-holds-the-step",
        "with stale_after 10, a mark unchanged for 11 time units holds the step of an account "
        "already liquidatable at the starting mark (waiting, reason stale)",
        {"stale_after": "10"},
        start="59500",
        events=[_clock(11)],
        reasons=[["stale"]],
    ),
    _gate_pin(
        "brk6-mark-exactly-stale-after-old-is-fresh",
        "with stale_after 10, a mark exactly 10 time units old is not stale: the step runs",
        {"stale_after": "10"},
        start="59500",
        events=[_clock(10)],
        reasons=[[]],
    ),
]

_REJECTION_PINS = [
    _file_pin(
        "state10-a-position-settling-elsewhere",
        "a USDT account that starts with a position in BTCUSD_PERP, which settles in BTC, "
        "rejects the scenario with cross-incompatible",
        ("STATE-10", "ACCOUNT-4"),
        "cross-incompatible",
        _world(
            "state10-a-position-settling-elsewhere",
            [{**_cash("carol"), "positions": [position(_COIN_M, "short", "1", "60000")]}],
            [],
            [market(), _coin_m()],
        ),
    ),
    _file_pin(
        "state10-an-inline-market-breaking-a-rule",
        "an inline market with a price tick of 0 rejects the scenario with the market's own "
        "reason, not-positive (MARKET-2)",
        ("STATE-10", "MARKET-2"),
        "not-positive",
        _world(
            "state10-an-inline-market-breaking-a-rule",
            [_cash("carol")],
            [],
            [market(market={"price_tick": "0"})],
        ),
    ),
    Pin(
        "state6-a-fill-mixing-triggers",
        "carol holds BTCUSDT (inclusive trigger); a fill in CYBERUSDT set to the strict "
        "trigger would put two triggers in one cross unit: rejected (cross-incompatible)",
        ("STATE-6", "ACCOUNT-4", "MARGIN-9"),
        _world(
            "state6-a-fill-mixing-triggers",
            [_long("carol", "100000")],
            [_fill("carol", "1", "1", symbol=_CYBER, expect="cross-incompatible")],
            [market(), _cyber(market={"trigger": "strict"})],
        ),
        lambda out: _reasons(out) == ["cross-incompatible"],
        ("negative",),
    ),
    _file_pin(
        "state1-start-time-below-zero",
        "a scenario starting at time -50 is rejected (out-of-range): every time is >= 0",
        ("STATE-1", "STATE-10"),
        "out-of-range",
        _world("state1-start-time-below-zero", [_cash("carol")], [], time="-50"),
    ),
    Pin(
        "state8-reference-of-zero-and-unordered-bids",
        "a reference price of 0 is refused (price-out-of-domain), and so are bids not in "
        "strictly decreasing order (bad-book); the replay goes on",
        ("STATE-8", "STATE-2", "BRK-3"),
        _world(
            "state8-reference-of-zero-and-unordered-bids",
            [_cash("carol")],
            [
                _event("reference", "price-out-of-domain", market=_BTC, price="0"),
                _book([["59000", "1"], ["59500", "1"]], [], expect="bad-book"),
                _reference("60000"),
            ],
        ),
        lambda out: _reasons(out) == ["price-out-of-domain", "bad-book", None],
        ("negative",),
    ),
    _file_pin(
        "state10-a-market-without-a-mark",
        "a scenario whose marks table leaves out a loaded market is rejected (missing-mark)",
        ("STATE-10",),
        "missing-mark",
        _world("state10-a-market-without-a-mark", [_cash("carol")], [], marks={}),
    ),
    _file_pin(
        "state10-a-mark-for-an-unloaded-market",
        "a mark for a market no file loads rejects the file with unknown-market",
        ("STATE-10",),
        "unknown-market",
        _world(
            "state10-a-mark-for-an-unloaded-market",
            [_cash("carol")],
            [],
            marks={_BTC: "60000", "ETHUSDT": "3000"},
        ),
    ),
    _file_pin(
        "state10-one-symbol-in-two-market-files",
        "two market files defining one symbol reject the scenario with duplicate-market",
        ("STATE-10", "MARKET-11"),
        "duplicate-market",
        _world(
            "state10-one-symbol-in-two-market-files", [_cash("carol")], [], [market(), market()]
        ),
    ),
    _file_pin(
        "state10-one-asset-settled-in-two-quanta",
        "two markets settling USDC in different quanta (0.0001 and 0.000001) reject the "
        "scenario with cross-incompatible (ACCOUNT-4)",
        ("STATE-10", "ACCOUNT-4"),
        "cross-incompatible",
        scenario(
            "state10-one-asset-settled-in-two-quanta",
            [market("bybit-btcperp-usdc-examples"), market("hyperliquid-btc-2024")],
            [_cash("carol", asset="USDC")],
            [],
            marks={"BTCPERP": "60000", "BTC": "60000"},
        ),
    ),
    _file_pin(
        "state10-two-positions-in-one-market",
        "an account of the initial state with two positions in one market is rejected "
        "(duplicate-position)",
        ("STATE-10", "ACCOUNT-3"),
        "duplicate-position",
        _world(
            "state10-two-positions-in-one-market",
            [{**_cash("carol", "1000"), "positions": [position(_BTC, "long", "0.1", "60000")] * 2}],
            [],
        ),
    ),
    _file_pin(
        "state10-event-without-its-keys",
        "a fill without its price cannot be read: the file is rejected (missing-key)",
        ("STATE-10", "CONV-12"),
        "missing-key",
        _world(
            "state10-event-without-its-keys",
            [_cash("carol")],
            [_event("fill", account="carol", market=_BTC, side="buy", size="0.1")],
        ),
    ),
    _file_pin(
        "state10-event-with-a-key-of-another-kind",
        "a mark event carrying an account key cannot be read: the file is rejected (unknown-key)",
        ("STATE-10", "CONV-12"),
        "unknown-key",
        _world(
            "state10-event-with-a-key-of-another-kind",
            [_cash("carol")],
            [_event("mark", market=_BTC, price="60000", account="carol")],
        ),
    ),
    _file_pin(
        "state10-cross-positions-with-different-triggers",
        "an account holding positions in an inclusive and a strict market (one cross unit, "
        "two triggers) rejects the file with cross-incompatible",
        ("STATE-10", "ACCOUNT-4"),
        "cross-incompatible",
        _world(
            "state10-cross-positions-with-different-triggers",
            [
                {
                    **_cash("carol", "1000"),
                    "positions": [
                        position(_BTC, "long", "0.1", "60000"),
                        position(_CYBER, "long", "100", "1"),
                    ],
                }
            ],
            [],
            [market(), _cyber(market={"trigger": "strict"})],
        ),
    ),
    _file_pin(
        "state10-override-for-an-unloaded-market",
        "a [liquidation] override naming a market no file loads rejects the file with "
        "unknown-market",
        ("STATE-10", "MARKET-12"),
        "unknown-market",
        _world(
            "state10-override-for-an-unloaded-market",
            [_cash("carol")],
            [],
            liquidation={"ETHUSDT": {"policy": "chunk"}},
        ),
    ),
    _file_pin(
        "state10-position-of-size-zero",
        "a position of size 0 in a scenario's initial state rejects the file with out-of-range",
        ("STATE-10", "ACCOUNT-1"),
        "out-of-range",
        _world("state10-position-of-size-zero", [_long("carol", "1000", size="0")], []),
    ),
    _file_pin(
        "risk5-parameters-of-another-symbol",
        "a parameters event whose file defines another symbol cannot be read: the file is "
        "rejected with unknown-market",
        ("RISK-5", "STATE-10"),
        "unknown-market",
        _world(
            "risk5-parameters-of-another-symbol",
            [_cash("carol")],
            [_event("parameters", market=_BTC, file=_cyber())],
        ),
    ),
    _file_pin(
        "conv10-event-in-unknown-market-rejects-file",
        "a mark event for a market no file loads rejects the whole file with unknown-market: "
        "its price has no tick to be read in, so it is not a rejected event",
        ("CONV-10", "STATE-10", "STATE-8"),
        "unknown-market",
        _world(
            "conv10-event-in-unknown-market-rejects-file",
            [_cash("carol")],
            [_mark("1", "ETHUSDT")],
        ),
    ),
    _file_pin(
        "state10-unknown-asset-rejects-file-before-amount",
        "a deposit of 0 in an asset no market settles rejects the whole file with "
        "unknown-asset: the amount cannot be read, so it is not a rejected event",
        ("STATE-10", "CONV-10", "STATE-4"),
        "unknown-asset",
        _world(
            "state10-unknown-asset-rejects-file-before-amount",
            [_cash("carol")],
            [_money("deposit", "carol", "0", "XYZ")],
        ),
    ),
    _file_pin(
        "conv10-initial-mark-out-of-domain-rejects-file",
        "an initial mark of 0 rejects the whole file with price-out-of-domain",
        ("CONV-10", "STATE-10", "STATE-3"),
        "price-out-of-domain",
        _world(
            "conv10-initial-mark-out-of-domain-rejects-file",
            [],
            [_mark("59000")],
            marks={_BTC: "0"},
        ),
    ),
    Pin(
        "conv10-mark-event-out-of-domain-rejects-the-event",
        "a mark event of 0 is a rejected event (price-out-of-domain): the replay goes on and "
        "the next mark is applied",
        ("CONV-10", "STATE-8", "STATE-3"),
        _world(
            "conv10-mark-event-out-of-domain-rejects-the-event",
            [],
            [_mark("0", expect="price-out-of-domain"), _mark("59000")],
        ),
        lambda out: (
            _reasons(out) == ["price-out-of-domain", None]
            and step(out, 0)["records"] == []
            and records(out, 1, "mark-set")[0]["previous"] == "60000"
        ),
        ("negative",),
    ),
    _file_pin(
        "conv10-initial-crossed-book-rejects-file",
        "a crossed initial book rejects the whole file with bad-book",
        ("CONV-10", "STATE-10", "STATE-2"),
        "bad-book",
        _world(
            "conv10-initial-crossed-book-rejects-file",
            [],
            [_mark("59000")],
            books={_BTC: {"bids": [["60010", "1"]], "asks": [["60000", "1"]]}},
        ),
    ),
    Pin(
        "conv10-crossed-book-event-rejects-the-event",
        "a crossed book snapshot in an event is a rejected event (bad-book); the next "
        "snapshot is applied",
        ("CONV-10", "STATE-8", "STATE-2"),
        _world(
            "conv10-crossed-book-event-rejects-the-event",
            [],
            [
                _event(
                    "book", "bad-book", market=_BTC, bids=[["60010", "1"]], asks=[["60000", "1"]]
                ),
                _event("book", market=_BTC, bids=[["59990", "1"]], asks=[["60000", "1"]]),
            ],
        ),
        lambda out: _reasons(out) == ["bad-book", None] and _kinds(out, 1) == ["book-set"],
        ("negative",),
    ),
    _file_pin(
        "state10-off-grid-event-price-rejects-file",
        "an event price off the tick grid cannot be read: it rejects the whole file with "
        "off-grid, not the event",
        ("STATE-10", "CONV-3", "CONV-10"),
        "off-grid",
        _world("state10-off-grid-event-price-rejects-file", [], [_mark("59000.05")]),
    ),
    _file_pin(
        "conv12-array-index-compares-as-number",
        "of a missing key in accounts[2] and an unknown key in accounts[10], the first by "
        "numeric index is reported: missing-key",
        ("CONV-12", "STATE-10"),
        "missing-key",
        _world(
            "conv12-array-index-compares-as-number",
            _eleven_accounts(),
            [_mark("59000")],
        ),
    ),
    _file_pin(
        "state10-start-time-must-be-whole",
        "a scenario start time of 0.5 is not a whole number of clock units: off-grid",
        ("STATE-10", "STATE-1", "CONV-3"),
        "off-grid",
        _world("state10-start-time-must-be-whole", [], [_clock(1)], time="0.5"),
    ),
]

# --- chapter 10: the mark, when it is recorded, index events ------------------------------------

_ONE_LEVEL = {"halt_levels": ["0.05"], "halt_durations": ["10"]}
"""A 5% move from the reference halts BTCUSDT for 10."""

_MARK_PINS = [
    Pin(
        "mark3-clamped-into-the-book-then-the-fair-band",
        "fair 60000, band 0.1%: the fair price clamped into the book (60100..60120) gives "
        "60100, then into the band 59940..60060 gives 60060; a trade at 60300 changes nothing; "
        "with the index at 60100 (band 60039.9..60160.1) the trade clamps to the ask, 60120",
        ("MARK-3", "MARK-4"),
        _world(
            "mark3-clamped-into-the-book-then-the-fair-band",
            [_cash("carol")],
            [
                _index("60000"),
                _book([["60100", "1"], ["60090", "1"]], [["60120", "1"], ["60130", "1"]]),
                _event("trade", market=_BTC, price="60300"),
                _index("60100"),
            ],
            [market(mark={"source": "clamped", "fair_band": "0.001"})],
        ),
        lambda out: (
            [(i, r["mark"]) for i, r in records_of(out, "mark-derived")]
            == [(1, "60060"), (3, "60120")]
        ),
        ("mark-clamped",),
    ),
    Pin(
        "mark2-median-of-the-three-candidates",
        "index 60000 with basis 0.0001 gives 60006; book mids 60100, 60205.1, 60000 leave the "
        "last two samples (basis_window 2), mean 102.55, so 60102.55; a trade at 60200: the "
        "median 60102.55 is rounded toward the index to 60102.5",
        ("MARK-2", "MARK-4"),
        _world(
            "mark2-median-of-the-three-candidates",
            [_cash("carol")],
            [
                _index("60000", "0.0001"),
                _book([["60090", "1"]], [["60110", "1"]]),
                _book([["60190", "1"]], [["60220.2", "1"]]),
                _book([["59990", "1"]], [["60010", "1"]]),
                _event("trade", market=_BTC, price="60200"),
            ],
            [market(mark={"source": "median", "basis_window": "2"})],
        ),
        lambda out: (
            [(i, r["candidates"], r["mark"]) for i, r in records_of(out, "mark-derived")]
            == [
                (0, ["60006", "60006", "60006"], "60006"),
                (4, ["60006", "60102.55", "60200"], "60102.5"),
            ]
        ),
        ("mark-median",),
    ),
    Pin(
        "mark5-ema-basis-weighs-samples-by-the-time-since-the-last",
        "EMA basis, decay 0.5 per time unit; index 60000, a trade at 61000. The first book "
        "(mid 60010, time 0) has weight 0; at time 3 mid 60004: (0 x 1/8 + 4 x 3) / (0 + 3) "
        "= 4, mark 60004; at time 4 mid 60010: (12/2 + 10) / (3/2 + 1) = 6.4, mark 60006.4 "
        "(the mean of the three samples would give 60008); at time 104 the decay 0.5^100 is "
        "below 10^-18, so 0, and mid 60002 alone counts: 60002",
        ("MARK-5", "MARK-2", "MARK-4"),
        _world(
            "mark5-ema-basis-weighs-samples-by-the-time-since-the-last",
            [_cash("carol")],
            [
                _index("60000"),
                _event("trade", market=_BTC, price="61000"),
                _book([["60000", "1"]], [["60020", "1"]]),
                _clock(3),
                _book([["59994", "1"]], [["60014", "1"]]),
                _clock(4),
                _book([["60000", "1"]], [["60020", "1"]]),
                _clock(104),
                _book([["59992", "1"]], [["60012", "1"]]),
            ],
            [market(mark={"source": "median", "basis": "ema", "ema_decay": "0.5"})],
        ),
        lambda out: (
            [(i, r["candidates"], r["mark"]) for i, r in records_of(out, "mark-derived")]
            == [
                (4, ["60000", "60004", "61000"], "60004"),
                (6, ["60000", "60006.4", "61000"], "60006.4"),
                (8, ["60000", "60002", "61000"], "60002"),
            ]
        ),
        ("mark-median",),
    ),
    Pin(
        "state8-unchanged-mark-event-is-recorded",
        "a mark event that repeats the mark is recorded and checks the halt levels against a "
        "new reference, which itself trips nothing",
        ("STATE-8", "BRK-3", "MARK-1"),
        _world(
            "state8-unchanged-mark-event-is-recorded",
            [],
            [_reference("50000"), _mark("60000")],
            [market(breakers=_ONE_LEVEL)],
        ),
        lambda out: (
            _trips(out, 0) == []
            and [
                (r["breaker"], r["reference"], r["mark"])
                for r in records(out, 1, "breaker-tripped")
            ]
            == [("halt-level-1", "50000", "60000")]
        ),
        ("breakers",),
    ),
    Pin(
        "mark1-unchanged-derived-mark-is-not-recorded",
        "a derived mark equal to the mark is not recorded (no mark-derived, no breaker "
        "check); the first one that changes it is, and trips the halt level",
        ("MARK-1", "STATE-8", "BRK-3", "OUT-10"),
        _world(
            "mark1-unchanged-derived-mark-is-not-recorded",
            [],
            [_reference("50000"), _index("60000"), _index("60001")],
            [market(mark=_MEDIAN, breakers=_ONE_LEVEL)],
        ),
        lambda out: (
            _kinds(out, 1) == ["index-set"]
            and _kinds(out, 2) == ["index-set", "mark-derived", "mark-set", "breaker-tripped"]
            and records(out, 2, "breaker-tripped")[0]["mark"] == "60001"
        ),
        ("breakers", "median"),
    ),
    Pin(
        "mark1-index-basis-must-be-below-one",
        "index events with basis 1 and -1 are rejected price-out-of-domain; a basis inside "
        "(-1, 1) is applied",
        ("MARK-1", "STATE-8"),
        _world(
            "mark1-index-basis-must-be-below-one",
            [],
            [
                _index("60000", "1", "price-out-of-domain"),
                _index("60000", "-1", "price-out-of-domain"),
                _index("60000", "-0.5"),
            ],
            [market(mark=_MEDIAN)],
        ),
        lambda out: (
            _reasons(out) == ["price-out-of-domain", "price-out-of-domain", None]
            and records(out, 2, "mark-set")[0]["price"] == "30000"
        ),
        ("median", "negative"),
    ),
    Pin(
        "mark1-index-on-event-market-sets-only-the-index",
        "on a market whose mark comes from mark events an index event is applied without "
        "deriving a mark, and it becomes the band's reference",
        ("MARK-1", "BRK-1"),
        _world(
            "mark1-index-on-event-market-sets-only-the-index",
            [_cash("carol")],
            [_index("61000"), _fill("carol", "0.1", "61500")],
            [market(breakers={"band": "0.01", "band_reference": "index"})],
        ),
        lambda out: (
            _kinds(out, 0) == ["index-set"]
            and _reasons(out) == [None, None]
            and _kinds(out, 1) == ["filled"]
        ),
        ("breakers",),
    ),
    Pin(
        "out2-started-lists-the-marks-of-the-units-legs",
        "liquidation-started lists the mark of every market the account holds and of no "
        "other loaded market",
        ("OUT-2", "LIQ-2"),
        _world(
            "out2-started-lists-the-marks-of-the-units-legs",
            [
                _bust("alice"),
                {
                    **_bust("bob"),
                    "positions": [
                        position(_BTC, "long", "1", "60000"),
                        position(_CYBER, "long", "10", "1"),
                    ],
                },
            ],
            [_mark("59800")],
            [market(), _cyber()],
        ),
        lambda out: _started(out, 0) == {"alice": [_BTC], "bob": [_BTC, _CYBER]},
    ),
]

# --- chapter 11: halts, the dynamic breaker, the withdrawal gate (§11.1) ------------------------

_TWO_LEVELS = {"halt_levels": ["0.05", "0.1"]}
_DYNAMIC = {"dynamic_move": "0.05", "dynamic_window": "10", "dynamic_pause": "5"}
"""A 5% move from a mark of the last 10 time units pauses BTCUSDT for 5."""


def _carol_in(breakers: Row, slug: str, events: list[Row], markets: list[Row] | None = None) -> Row:
    """Return a scenario of BTCUSDT with ``breakers`` and carol, who has cash to trade."""
    return _world(slug, [_cash("carol")], events, markets or [market(breakers=breakers)])


_BREAKER_PINS = [
    Pin(
        "brk3-higher-level-uses-up-the-lower-ones",
        "after level 2 trips, a later move past level 1 alone trips nothing; a new reference "
        "makes level 1 available again",
        ("BRK-3",),
        _carol_in(
            {**_TWO_LEVELS, "halt_durations": ["10", "10"]},
            "brk3-higher-level-uses-up-the-lower-ones",
            [_mark("53000"), _clock(20), _mark("56000"), _reference("60000"), _mark("56000")],
        ),
        lambda out: (
            [_trips(out, i) for i in range(5)] == [["halt-level-2"], [], [], [], ["halt-level-1"]]
        ),
        ("breakers",),
    ),
    Pin(
        "brk3-later-shorter-halt-never-shortens",
        "a level-2 trip of 10 during a level-1 halt of 100 leaves the market halted at time 50, "
        "and its record says until 100, the end of the halt the market is under",
        ("BRK-3", "BRK-6", "OUT-11"),
        _carol_in(
            {**_TWO_LEVELS, "halt_durations": ["100", "10"]},
            "brk3-later-shorter-halt-never-shortens",
            [
                _mark("56000"),
                _mark("53000"),
                _clock(50),
                _fill("carol", "0.1", "53000", expect="halted"),
            ],
        ),
        lambda out: (
            _trips(out, 0) == ["halt-level-1"]
            and _trips(out, 1) == ["halt-level-2"]
            and [r["until"] for r in records(out, 1, "breaker-tripped")] == [100]
            and _reasons(out) == [None, None, None, "halted"]
        ),
        ("breakers", "negative"),
    ),
    Pin(
        "brk3-open-ended-halt-lasts-until-a-reference",
        "a level with duration 0 halts the market until the next reference price, however "
        "late, and not after it",
        ("BRK-3", "BRK-6", "OUT-11"),
        _carol_in(
            {"halt_levels": ["0.05"], "halt_durations": ["0"]},
            "brk3-open-ended-halt-lasts-until-a-reference",
            [
                _mark("56000"),
                _clock(10**30),  # past any sentinel an engine might use for "never" (2^62)
                _fill("carol", "0.1", "56000", expect="halted"),
                _reference("56000"),
                _fill("carol", "0.1", "56000"),
            ],
        ),
        lambda out: (
            [r["until"] for r in records(out, 0, "breaker-tripped")] == [None]
            and _reasons(out) == [None, None, "halted", None, None]
            and _kinds(out, 4) == ["filled"]
        ),
        ("breakers", "negative"),
    ),
    Pin(
        "brk4-starting-mark-is-a-recorded-mark",
        "the scenario's starting mark is in the dynamic window: a first mark 6.7% away trips "
        "the dynamic breaker with the starting mark as its reference",
        ("BRK-4", "STATE-8"),
        _carol_in(
            _DYNAMIC,
            "brk4-starting-mark-is-a-recorded-mark",
            [_mark("56000")],
        ),
        lambda out: (
            [(r["breaker"], r["reference"], r["until"]) for r in records(out, 0, "breaker-tripped")]
            == [("dynamic", "60000", 5)]
        ),
        ("breakers",),
    ),
    Pin(
        "brk4-starting-mark-is-recorded-at-the-start-time",
        "in a scenario starting at time 100 the starting mark is recorded at time 100, inside "
        "a window of 50: the first mark event trips against it",
        ("BRK-4", "STATE-10"),
        _world(
            "brk4-starting-mark-is-recorded-at-the-start-time",
            [],
            [_mark("56000"), _mark("60000")],
            [market(breakers=_DYNAMIC | {"dynamic_window": "50"})],
            time="100",
        ),
        lambda out: (
            [(r["breaker"], r["reference"]) for r in records(out, 0, "breaker-tripped")]
            == [("dynamic", "60000")]
        ),
        ("breakers",),
    ),
    Pin(
        "brk4-mark-exactly-window-old-counts",
        "a mark recorded exactly dynamic_window (10) before is in the window: the starting "
        "mark of time 0 trips the breaker at time 10",
        ("BRK-4",),
        _carol_in(
            _DYNAMIC,
            "brk4-mark-exactly-window-old-counts",
            [_clock(10), _mark("56000")],
        ),
        lambda out: (
            [(r["breaker"], r["reference"], r["until"]) for r in records(out, 1, "breaker-tripped")]
            == [("dynamic", "60000", 15)]
        ),
        ("breakers", "boundary"),
    ),
    Pin(
        "brk4-reference-is-first-mark-of-the-largest-move",
        "marks 50000 and 75000 are both a 20% move from 60000: the dynamic trip reports the "
        "first recorded, 50000, not the farther price",
        ("BRK-4", "OUT-11"),
        _carol_in(
            {"dynamic_move": "0.2", "dynamic_window": "100", "dynamic_pause": "5"},
            "brk4-reference-is-first-mark-of-the-largest-move",
            [_mark("50000"), _mark("75000"), _clock(5), _mark("60000")],
        ),
        lambda out: (
            _trips(out, 0) == []
            and [(r["reference"], Fraction(r["move"])) for r in records(out, 3, "breaker-tripped")]
            == [("50000", Fraction(1, 5))]
        ),
        ("breakers",),
    ),
    Pin(
        "brk5-largest-withdrawal-block-of-the-asset",
        "with withdrawal_block 100 on BTCUSDT and 500 on CYBERUSDT, a negative USDT account "
        "blocks USDT withdrawals until 500",
        ("BRK-5", "OUT-12"),
        _world(
            "brk5-largest-withdrawal-block-of-the-asset",
            [_bust(), _cash("carol")],
            [
                _mark("59800"),
                _clock(300),
                _money("withdraw", "carol", "1", expect="withdrawals-blocked"),
            ],
            [
                market(breakers={"withdrawal_block": "100"}),
                _cyber(breakers={"withdrawal_block": "500"}),
            ],
        ),
        lambda out: (
            [r["until"] for r in records(out, 0, "withdrawals-blocked")] == [500]
            and _reasons(out) == [None, None, "withdrawals-blocked"]
        ),
        ("breakers", "negative"),
    ),
]

# --- chapter 12: when the multiplier is evaluated, defaults, operator changes (§12.1) -----------


def _risk_world(slug: str, risk: Row, events: list[Row], **tables: Any) -> Row:
    """Return a scenario of BTCUSDT with the risk overrides ``risk`` and no account."""
    return _world(slug, [], events, risk={_BTC: risk}, **tables)


def _first_rise(out: Output, index: int) -> bool:
    """Step ``index`` raised the multiplier from 1 to 1.1, the first (and default) max_step."""
    found = records(out, index, "risk-adjusted")
    return [(Fraction(r["old"]), Fraction(r["new"])) for r in found] == [
        (Fraction(1), Fraction(11, 10))
    ]


_PREEMPT = {"preempt_shock": "0.01", "preempt_threshold": "100000", "preempt_target": "1.5",
            "preempt_interval": "10", "interval": "10", "max_multiplier": "1.9",
            "max_step": "0.25"}  # fmt: skip
"""RISK-7 on BTCUSDT: a 1% shock, 100,000 USDT of predicted liquidations raise the target."""

_THIN_LONGS = [_long("ann", "650"), _long("ben", "800"), _long("cy", "900")]
"""1 BTC longs from 60,000 that liquidate at 59,597.9, 59,447.2 and 59,346.7 (tier 2: 0.5%,
cum 50; inclusive): (59,950 - balance) / 0.995, rounded down to the tick."""


def _preempt_world(slug: str, risk: Row, accounts: list[Row], events: list[Row]) -> Row:
    """Return BTCUSDT with RISK-7 on, a 5 BTC bid at 59,990 and a fund of 1,000 USDT."""
    book = {_BTC: {"bids": [["59990", "5"]], "asks": [["60010", "5"]]}}
    return _world(slug, accounts, events, risk={_BTC: risk}, books=book, funds={"USDT": "1000"})


def _predicted(out: Output, index: int) -> list[tuple[str, str, str, str]]:
    return [(r["measure"], r["predicted"], r["threshold"], r["preempt_target"])
            for r in records(out, index, "cascade-predicted")]  # fmt: skip


_RISK_PINS = [
    Pin(
        "risk7-predicted-liquidations-raise-the-target",
        "a 1% fall from 60000 is 59400, the bid moves to 59390.1: ann and ben (59597.9, "
        "59447.2) sell 2 BTC there, so 59390.1, which cy (59346.7) survives; predicted "
        "liquidations 119045.1 above 100000 set the target 1.5, and RISK-3 (no volatility: "
        "source none) moves the multiplier by its max_step to 1.25",
        ("RISK-7", "RISK-3", "OUT-13"),
        _preempt_world(
            "risk7-predicted-liquidations-raise-the-target", _PREEMPT, _THIN_LONGS, [_clock(10)]
        ),
        lambda out: (
            _predicted(out, 0) == [("liquidated", "119045.1", "100000", "1.5")]
            and [
                (r["volatility_ppm"], r["volatility_source"], r["target"], r["old"], r["new"])
                for r in records(out, 0, "risk-adjusted")
            ]
            == [(0, "none", "1.5", "1", "1.25")]
        ),
        ("risk",),
        ("INV-PREEMPT",),
    ),
    Pin(
        "risk7-a-rise-walks-the-shorts-through-a-thin-ask-in-two-rounds",
        "shorts sam, tom and uma (650, 700, 900 USDT) liquidate at 60398.1, 60447.8 and "
        "60646.8 ((60050 + balance) / 1.005, rounded up); a 0.7% rise is 60420 and moves the "
        "asks to 60430.1 (0.5 BTC) and 60520.7 (2 BTC): sam's 1 BTC fills at 60520.7, which "
        "reaches tom; their 2 BTC fill there too, short of uma: 60398.1 + 60447.8 = 120845.9",
        ("RISK-7", "STRESS-10"),
        _world(
            "risk7-a-rise-walks-the-shorts-through-a-thin-ask-in-two-rounds",
            [_short("sam", "650"), _short("tom", "700"), _short("uma", "900")],
            [_clock(10)],
            risk={_BTC: {**_PREEMPT, "preempt_shock": "0.007"}},
            books={_BTC: {"bids": [["59990", "5"]], "asks": [["60010", "0.5"], ["60100", "2"]]}},
            funds={"USDT": "1000"},
        ),
        lambda out: _predicted(out, 0) == [("liquidated", "120845.9", "100000", "1.5")],
        ("risk",),
        ("INV-PREEMPT",),
    ),
    Pin(
        "risk7-a-deficit-equal-to-the-threshold-changes-nothing",
        "a 2% fall (58800, bid 58790.2) reaches all three longs; at 58790.2 their equities are "
        "650, 800 and 900 less 1209.8: a deficit of 559.8 + 409.8 + 309.8 = 1279.4, exactly "
        "the threshold, so the target stays 1 and the multiplier does not move",
        ("RISK-7",),
        _preempt_world(
            "risk7-a-deficit-equal-to-the-threshold-changes-nothing",
            {
                **_PREEMPT,
                "preempt_shock": "0.02",
                "preempt_measure": "deficit",
                "preempt_threshold": "1279.4",
            },
            _THIN_LONGS,
            [_clock(10)],
        ),
        lambda out: (
            _predicted(out, 0) == [("deficit", "1279.4", "1279.4", "1")]
            and records(out, 0, "risk-adjusted") == []
        ),
        ("risk", "boundary"),
        ("INV-PREEMPT",),
    ),
    Pin(
        "risk7-adl-need-is-the-deficit-beyond-the-fund",
        "the same fall: the 1279.4 deficit less the 1000 fund leaves 279.4 for ADL, above a "
        "threshold of 279.3, so the target is 1.5",
        ("RISK-7",),
        _preempt_world(
            "risk7-adl-need-is-the-deficit-beyond-the-fund",
            {
                **_PREEMPT,
                "preempt_shock": "0.02",
                "preempt_measure": "adl-need",
                "preempt_threshold": "279.3",
            },
            _THIN_LONGS,
            [_clock(10)],
        ),
        lambda out: _predicted(out, 0) == [("adl-need", "279.4", "279.3", "1.5")],
        ("risk", "boundary"),
        ("INV-PREEMPT",),
    ),
    Pin(
        "risk7-an-operator-change-resets-the-preemptive-target",
        "RISK-7 raises the multiplier to 1.25 at 10 (target 1.5); a parameters event at 15 "
        "installs a file with RISK-7 predicting only every 100 (multiplier 1): RISK-3 "
        "evaluates at 20 and 30 toward target 1, not the old 1.5, so nothing rises",
        ("RISK-7", "RISK-5"),
        _preempt_world(
            "risk7-an-operator-change-resets-the-preemptive-target",
            _PREEMPT,
            _THIN_LONGS,
            [
                _clock(10),
                _clock(15),
                _event(
                    "parameters",
                    market=_BTC,
                    file=market(risk={**_PREEMPT, "preempt_interval": "100"}),
                ),
                _clock(20),
                _clock(30),
            ],
        ),
        lambda out: (
            [i for i, _ in records_of(out, "risk-adjusted")] == [0]
            and [i for i, _ in records_of(out, "cascade-predicted")] == [0]
        ),
        ("risk",),
        ("INV-PREEMPT",),
    ),
    Pin(
        "risk7-a-preemptive-rise-phases-in",
        "dee (1 BTC long, 300 USDT) is healthy at MM 250 and not at 375 (x 1.5): RISK-7 raises "
        "the multiplier to 1.5 at 10 with phase_in 60, and dee, who does nothing, is not "
        "liquidated at 69; at 70 the phase-in is over and she is",
        ("RISK-7", "RISK-6"),
        _preempt_world(
            "risk7-a-preemptive-rise-phases-in",
            {**_PREEMPT, "max_step": "0.5", "phase_in": "60"},
            [*_THIN_LONGS[:2], _long("dee", "300")],
            [_clock(10), _clock(69), _clock(70)],
        ),
        lambda out: (
            [r["effective"] for r in records(out, 0, "risk-adjusted")] == [70]
            and [i for i, r in records_of(out, "liquidation-started") if r["account"] == "dee"]
            == [2]
        ),
        ("risk",),
        ("INV-PREEMPT", "INV-PHASE-IN"),
    ),
    Pin(
        "risk3-first-evaluation-waits-for-the-interval",
        "with an estimate from the first event on, the first risk adjustment comes at the "
        "first event at time >= interval (30), not before",
        ("RISK-3", "RISK-1"),
        _risk_world(
            "risk3-first-evaluation-waits-for-the-interval",
            {**_RISING, "interval": "30"},
            [_mark("66000"), _clock(29), _clock(30)],
        ),
        lambda out: _adjusted_at(out) == [2] and _first_rise(out, 2),
        ("risk",),
    ),
    Pin(
        "risk3-first-evaluation-waits-for-start-plus-interval",
        "a scenario starting at time 100 with interval 60 first evaluates at time 160: the "
        "last adjustment starts at the start time",
        ("RISK-3", "STATE-10"),
        _risk_world(
            "risk3-first-evaluation-waits-for-start-plus-interval",
            {**_RISING, "interval": "60"},
            [_mark("66000"), _clock(159), _clock(160)],
            time="100",
        ),
        lambda out: _adjusted_at(out) == [2] and _first_rise(out, 2),
        ("risk",),
    ),
    Pin(
        "risk3-evaluation-without-change-restarts-interval",
        "an evaluation at 10 that leaves the multiplier at 1 restarts the interval: a high "
        "estimate at 15 waits until 20",
        ("RISK-3",),
        _risk_world(
            "risk3-evaluation-without-change-restarts-interval",
            {**_RISING, "interval": "10"},
            [_mark("60000"), _clock(10), _clock(15), _mark("66000"), _clock(20)],
        ),
        lambda out: _adjusted_at(out) == [4] and _first_rise(out, 4),
        ("risk",),
    ),
    Pin(
        "risk3-no-estimate-does-not-restart-interval",
        "at time 10 with only the starting mark there is no estimate and the interval does "
        "not restart: the first estimate at 15 adjusts at once",
        ("RISK-3", "RISK-1"),
        _risk_world(
            "risk3-no-estimate-does-not-restart-interval",
            {**_RISING, "interval": "10"},
            [_clock(10), _clock(15), _mark("66000")],
        ),
        lambda out: _adjusted_at(out) == [2] and _first_rise(out, 2),
        ("risk",),
    ),
    Pin(
        "risk3-default-interval-step-and-phase-in",
        "with only vol_window, slope and max_multiplier given, the first rise comes at time "
        "60, by 0.1, and reports effective 0 (phase_in 0)",
        ("RISK-3", "MARKET-15", "OUT-13"),
        _risk_world(
            "risk3-default-interval-step-and-phase-in",
            _RISING,
            [_mark("66000"), _clock(59), _clock(60)],
        ),
        lambda out: (
            _adjusted_at(out) == [2]
            and _first_rise(out, 2)
            and [r["effective"] for r in records(out, 2, "risk-adjusted")] == [0]
        ),
        ("risk",),
    ),
    Pin(
        "risk3-default-hysteresis-is-one-hundredth",
        "a target of exactly 1.01 (BTCUSDT) changes nothing, a target of 1.011 (CYBERUSDT) "
        "moves the multiplier to it: the default hysteresis is 0.01",
        ("RISK-3", "MARKET-15"),
        _world(
            "risk3-default-hysteresis-is-one-hundredth",
            [],
            [_mark("66000"), _mark("1.1", _CYBER), _clock(60)],
            [market(), _cyber()],
            risk={
                _BTC: {"vol_window": "1", "slope": "0.0000001", "max_multiplier": "1.5"},
                _CYBER: {"vol_window": "1", "slope": "0.00000011", "max_multiplier": "1.5"},
            },
        ),
        lambda out: (
            [
                (r["market"], Fraction(r["target"]), Fraction(r["new"]))
                for r in records(out, 2, "risk-adjusted")
            ]
            == [(_CYBER, Fraction("1.011"), Fraction("1.011"))]
            and _adjusted_at(out) == [2]
        ),
        ("risk", "boundary"),
    ),
    Pin(
        "risk5-operator-change-installs-the-file-as-is",
        "a parameters event takes the new file's phase_in (effective 60), drops the "
        "scenario's risk overrides (no more adjustment) and sets the multiplier back to 1",
        ("RISK-5", "RISK-6", "OUT-13"),
        _world(
            "risk5-operator-change-installs-the-file-as-is",
            [_long("mona", "1000")],
            [
                _mark("66000"),
                _clock(10),
                _event("parameters", market=_BTC, file=market(risk={"phase_in": "50"})),
                _clock(20),
            ],
            risk={_BTC: {**_RISING, "interval": "10"}},
        ),
        lambda out: (
            _adjusted_at(out) == [1]
            and _first_rise(out, 1)
            and [r["effective"] for r in records(out, 2, "parameters-changed")] == [60]
            and step(out, 2)["event"]["risk_multiplier"] == "1"
            and _final(out, "mona")["maintenance"] == "280"
        ),
        ("risk", "parameters"),
    ),
    Pin(
        "risk6-action-at-the-change-time-ends-grandfathering",
        "a withdrawal at the time of a margin-raising change, listed before it, ends the "
        "account's phase-in: it is liquidated at the change, the idle account is not",
        ("RISK-6", "RISK-5"),
        _world(
            "risk6-action-at-the-change-time-ends-grandfathering",
            [_long("alice", "1000"), _long("bob", "1000")],
            [
                _clock(10),
                _money("withdraw", "alice", "10"),
                _phase_in_change("0.05", "10", "100"),
            ],
        ),
        lambda out: _reasons(out) == [None, None, None] and _started(out, 2) == {"alice": [_BTC]},
        ("risk", "parameters"),
    ),
    Pin(
        "risk6-phase-in-end-alone-starts-a-liquidation",
        "bob, idle, keeps the old parameters through the phase-in of a margin-raising change "
        "at 10 (phase_in 100): nothing starts at 109; at 110 the phase-in is over and his "
        "liquidation starts, though only the time moved",
        ("RISK-6", "LIQ-1"),
        _world(
            "risk6-phase-in-end-alone-starts-a-liquidation",
            [_long("bob", "1000")],
            [
                _clock(10),
                _phase_in_change("0.05", "10", "100"),
                _clock(109),
                _clock(110),
            ],
        ),
        lambda out: [_started(out, i) for i in range(4)] == [{}, {}, {}, {"bob": [_BTC]}],
        ("risk", "parameters"),
    ),
]

# --- chapter 12: implied volatility and the volatility source (RISK-8) --------------------------

_CALM = [_mark("60010"), _mark("60000"), _mark("60010"), _mark("60000")]
"""Four calm marks: with a window of four, RISK-1 estimates 167 ppm."""

_SPIKE = {"vol_window": "4", "vol_threshold": "2000", "slope": "0.0001",
          "max_multiplier": "1.5", "interval": "10", "implied_max_age": "30"}  # fmt: skip
"""A threshold of 2000 ppm: the calm marks never pass it, an implied 9000 ppm does."""


def _implied(ppm: str) -> Row:
    return _event("implied-volatility", market=_BTC, volatility=ppm)


def _sources(out: Output) -> list[tuple[int, str, int]]:
    """(step, volatility_source, volatility_ppm) of every risk-adjusted record."""
    return [
        (s["index"], r["volatility_source"], r["volatility_ppm"])
        for s in out["steps"] for r in s["records"] or () if r["kind"] == "risk-adjusted"
    ]  # fmt: skip


def _longtail(slug: str, balance: str, *events: Row) -> Row:
    """Return alice, 10,000 LONGTAIL long from 1 on ``balance`` USDC, and ``events``."""
    alice = {
        "id": "alice", "asset": "USDC", "balance": balance,
        "positions": [position(_LONGTAIL, "long", "10000", "1")],
    }  # fmt: skip
    longtail = [market("dydx-long-tail-oimf")]
    return _world(slug, [alice], list(events), longtail, funds={"USDC": "0"})


def _open_interest(size: str) -> Row:
    return _event("open-interest", market=_LONGTAIL, size=size)


def _withdraw_usdc(amount: str) -> Row:
    return _money("withdraw", "alice", amount, asset="USDC")


def _open_interest_world(slug: str, open_interest: str) -> Row:
    """Return alice's withdrawals around an open-interest event (MARGIN-12).

    On 3,000 USDC (IM 2,000 at the base 20%) she takes 900 out; then the open interest is set
    and she asks for one quantum more.
    """
    return _longtail(slug, "3000", _withdraw_usdc("900"), _open_interest(open_interest),
                     _withdraw_usdc("0.000001"))  # fmt: skip


def _near_the_cap(slug: str, open_interest: str) -> Row:
    """Return a withdrawal of 0.005 on 10,000 USDC after an open-interest event (MARGIN-12)."""
    return _longtail(slug, "10000", _open_interest(open_interest), _withdraw_usdc("0.005"))


_OPEN_INTEREST_PINS = [
    Pin(
        "margin12-the-gain-is-truncated-to-a-ppm",
        "one lot below the upper cap (9,999,999) the rate gains 0.8 x 4,999,999 / 5,000,000 = "
        "0.79999984, truncated to 0.799999: IM 9,999.99, so 0.005 out of 10,000 leaves "
        "9,999.995 and is applied (untruncated, IM would be 9,999.9984 and refuse it)",
        ("MARGIN-12", "STATE-5"),
        _near_the_cap("margin12-the-gain-is-truncated-to-a-ppm", "9999999"),
        lambda out: _reasons(out) == [None, None],
        ("boundary",),
    ),
    Pin(
        "margin12-at-the-upper-cap-the-rate-is-one",
        "at exactly the upper cap (10,000,000) the rate is 1: IM is the whole 10,000 notional, "
        "so 0.005 out of 10,000 is refused",
        ("MARGIN-12", "STATE-5"),
        _near_the_cap("margin12-at-the-upper-cap-the-rate-is-one", "10000000"),
        lambda out: _reasons(out) == [None, "insufficient-margin"],
        ("boundary",),
    ),
    Pin(
        "margin12-open-interest-raises-the-initial-margin",
        "an open interest of 7,500,000 at a mark of 1 is halfway between the caps (5M, 10M): "
        "the initial rate rises from 20% to 60%, IM from 2,000 to 6,000, so with 2,100 left "
        "one more quantum out is refused",
        ("MARGIN-12", "STATE-5", "OUT-1"),
        _open_interest_world("margin12-open-interest-raises-the-initial-margin", "7500000"),
        lambda out: (
            _reasons(out) == [None, None, "insufficient-margin"]
            and [r["size"] for r in records(out, 1, "open-interest-set")] == ["7500000"]
        ),
        ("boundary",),
    ),
    Pin(
        "margin12-open-interest-at-the-lower-cap-changes-nothing",
        "an open interest of exactly 5,000,000 (the lower cap) leaves the rate at 20%: IM "
        "stays 2,000 and the withdrawal is applied",
        ("MARGIN-12", "STATE-5"),
        _open_interest_world("margin12-open-interest-at-the-lower-cap-changes-nothing", "5000000"),
        lambda out: _reasons(out) == [None, None, None],
        ("boundary",),
    ),
    Pin(
        "margin12-negative-open-interest-is-out-of-domain",
        "an open interest below zero is rejected as outside the market's domain",
        ("MARGIN-12", "STATE-3"),
        _open_interest_world("margin12-negative-open-interest-is-out-of-domain", "-1"),
        lambda out: _reasons(out) == [None, "price-out-of-domain", None],
        ("negative",),
    ),
]

_IMPLIED_PINS = [
    Pin(
        "risk8-realised-source-ignores-the-implied-feed",
        "under the default source (realised) an implied 9000 ppm is recorded but moves "
        "nothing: the calm realised 167 ppm stays under the 2000 ppm threshold",
        ("RISK-8", "OUT-13"),
        _risk_world(
            "risk8-realised-source-ignores-the-implied-feed",
            _SPIKE,
            [*_CALM, _clock(5), _implied("9000"), _clock(10), _clock(20)],
        ),
        lambda out: (
            _sources(out) == []
            and [r["volatility_ppm"] for r in records(out, 5, "implied-volatility-set")] == [9000]
        ),
        ("risk",),
    ),
    Pin(
        "risk8-stale-implied-falls-back-to-realised",
        "under source implied the feed's 9000 ppm raises the multiplier at time 10; at time "
        "40 it is 35 old, past implied_max_age 30: the realised 167 ppm stands in, named "
        "realised-fallback, and the multiplier comes back down",
        ("RISK-8", "RISK-3"),
        _risk_world(
            "risk8-stale-implied-falls-back-to-realised",
            {**_SPIKE, "source": "implied"},
            [*_CALM, _clock(5), _implied("9000"), _clock(10), _clock(40)],
        ),
        lambda out: _sources(out) == [(6, "implied", 9000), (7, "realised-fallback", 167)],
        ("risk",),
    ),
    Pin(
        "risk8-implied-age-at-the-limit-is-fresh",
        "an implied value exactly implied_max_age (30) old is still fresh: at time 35 the "
        "value of time 5 is used",
        ("RISK-8",),
        _risk_world(
            "risk8-implied-age-at-the-limit-is-fresh",
            {**_SPIKE, "source": "implied", "interval": "30"},
            [*_CALM, _clock(5), _implied("9000"), _clock(35)],
        ),
        lambda out: _sources(out) == [(6, "implied", 9000)],
        ("risk", "boundary"),
    ),
    Pin(
        "risk8-implied-source-without-a-window",
        "with vol_window 0 and source implied the feed alone drives the multiplier; once it "
        "is stale there is no volatility at all, so nothing happens",
        ("RISK-8", "RISK-3"),
        _risk_world(
            "risk8-implied-source-without-a-window",
            {**_SPIKE, "vol_window": "0", "source": "implied"},
            [_clock(5), _implied("9000"), _clock(10), _clock(40), _clock(50)],
        ),
        lambda out: _sources(out) == [(2, "implied", 9000)],
        ("risk",),
    ),
    Pin(
        "risk8-max-takes-the-larger-realised",
        "under source max with an implied 100 ppm and a realised 167 ppm, the realised "
        "one drives the multiplier (threshold 0: target 1.0167)",
        ("RISK-8",),
        _risk_world(
            "risk8-max-takes-the-larger-realised",
            {**_SPIKE, "vol_threshold": "0", "source": "max"},
            [*_CALM, _clock(5), _implied("100"), _clock(10)],
        ),
        lambda out: _sources(out) == [(6, "realised", 167)],
        ("risk",),
    ),
    Pin(
        "risk8-max-takes-the-larger-implied",
        "under source max with an implied 9000 ppm and a realised 167 ppm, the implied one "
        "drives the multiplier",
        ("RISK-8",),
        _risk_world(
            "risk8-max-takes-the-larger-implied",
            {**_SPIKE, "source": "max"},
            [*_CALM, _clock(5), _implied("9000"), _clock(10)],
        ),
        lambda out: _sources(out) == [(6, "implied", 9000)],
        ("risk",),
    ),
    _file_pin(
        "risk8-implied-above-the-cap",
        "an implied volatility of 10,000,001 ppm rejects the file (out-of-range): the most "
        "is 10,000,000",
        ("RISK-8", "STATE-10"),
        "out-of-range",
        _risk_world("risk8-implied-above-the-cap", _SPIKE, [_implied("10000001")]),
    ),
    Pin(
        "risk8-implied-at-the-cap",
        "an implied volatility of exactly 10,000,000 ppm is accepted and recorded",
        ("RISK-8",),
        _risk_world("risk8-implied-at-the-cap", _SPIKE, [_implied("10000000")]),
        lambda out: (
            [r["volatility_ppm"] for r in records(out, 0, "implied-volatility-set")] == [10_000_000]
        ),
        ("risk", "boundary"),
    ),
]

# --- boundaries of chapters 10 to 12 that the engine's mutants cross ------------------------

_ENGINE_MUTANT_PINS = [
    Pin(
        "brk5-divergence-equal-to-the-limit-does-not-gate",
        "with divergence 0.01, index 60000 and the mark at 59400 the move is exactly 0.01, "
        "which does not exceed it: alice's liquidation step runs, no liquidation-waiting",
        ("BRK-5", "BRK-6", "LIQ-10"),
        _world(
            "brk5-divergence-equal-to-the-limit-does-not-gate",
            [_long("alice", "700")],
            [_index("60000"), _mark("59400")],
            [market(breakers={"divergence": "0.01"})],
            books={_BTC: {"bids": [["59390", "5"]], "asks": []}},
        ),
        lambda out: (
            [r["levels"] for r in records(out, 1, "liquidation-step")] == [[["59390", "0.824"]]]
            and not records(out, 1, "liquidation-waiting")
        ),
        ("breakers", "boundary"),
    ),
    Pin(
        "brk1-band-low-limit-at-one-tick",
        "with the mark at 0.1 (one tick) and a 50% band, the band is 0.1..0.1: its low "
        "limit is the lowest grid price, and a fill at 0.1 is inside it",
        ("BRK-1", "STATE-6"),
        _world(
            "brk1-band-low-limit-at-one-tick",
            [_cash("carol")],
            [_mark("0.1"), _fill("carol", "0.001", "0.1")],
            [market(breakers={"band": "0.5"})],
        ),
        lambda out: (
            _reasons(out) == [None, None]
            and [(r["price"], r["size"]) for r in records(out, 1, "filled")] == [("0.1", "0.001")]
        ),
        ("breakers", "boundary"),
    ),
    Pin(
        "mark4-derived-mark-of-one-tick",
        "an index at 0.1, one tick, with basis 0 derives the median mark 0.1: the lowest "
        "grid price is a mark, kept as it is by the clamp into 1 .. max_price",
        ("MARK-4", "MARK-2"),
        _world(
            "mark4-derived-mark-of-one-tick",
            [],
            [_index("0.1")],
            [market(mark=_MEDIAN)],
        ),
        lambda out: (
            [(r["candidates"], r["mark"]) for r in records(out, 0, "mark-derived")]
            == [(["0.1", "0.1", "0.1"], "0.1")]
            and [r["price"] for r in records(out, 0, "mark-set")] == ["0.1"]
        ),
        ("median", "boundary"),
    ),
    Pin(
        "brk4-window-is-by-time-at-a-late-start",
        "in a scenario starting at time 10^9, far more than any price in ticks, the "
        "starting mark is in the dynamic window: a first mark 6.7% away trips against it",
        ("BRK-4", "STATE-10"),
        _world(
            "brk4-window-is-by-time-at-a-late-start",
            [],
            [_mark("56000")],
            [market(breakers=_DYNAMIC)],
            time="1000000000",
        ),
        lambda out: (
            [(r["breaker"], r["reference"], r["until"]) for r in records(out, 0, "breaker-tripped")]
            == [("dynamic", "60000", 1000000005)]
        ),
        ("breakers",),
    ),
    Pin(
        "risk2-calm-estimate-targets-one",
        "a 10% return raises the multiplier to 1.1; an unchanged mark then gives volatility "
        "0, below the threshold: the target is exactly 1 and the multiplier comes back to 1",
        ("RISK-2", "RISK-3", "OUT-13"),
        _risk_world(
            "risk2-calm-estimate-targets-one",
            {**_RISING, "interval": "10"},
            [_mark("66000"), _clock(10), _mark("66000"), _clock(20)],
        ),
        lambda out: (
            _adjusted_at(out) == [1, 3]
            and _first_rise(out, 1)
            and [
                (r["volatility_ppm"], r["target"], r["old"], r["new"])
                for r in records(out, 3, "risk-adjusted")
            ]
            == [(0, "1", "1.1", "1")]
        ),
        ("risk",),
    ),
    Pin(
        "risk6-change-at-the-phase-end-starts-a-new-phase",
        "a change at time 60, exactly when the phase-in of a change at 10 ends, is not "
        "during it: the idle account is margined with the lower of the first change's set "
        "(MM 600) and the new one (1200), not with the original set (250)",
        ("RISK-6", "RISK-5"),
        _world(
            "risk6-change-at-the-phase-end-starts-a-new-phase",
            [_long("mona", "1000")],
            [
                _clock(10),
                _phase_in_change("0.01", "50", "50"),
                _clock(60),
                _phase_in_change("0.02", "25", "100"),
            ],
        ),
        lambda out: (
            [[r["effective"] for r in records(out, i, "parameters-changed")] for i in (1, 3)]
            == [[60], [160]]
            and _final(out, "mona")["maintenance"] == "600"
        ),
        ("risk", "parameters", "boundary"),
    ),
]

_STATIC_MUTANT_PINS = [
    _boundary_pin(
        "brk3-reference-of-one-tick",
        "a reference price of one tick (0.1) is in the price domain and applied; 0 is not",
        ("BRK-3", "STATE-8"),
        "100000",
        [
            _event("reference", market=_BTC, price="0.1"),
            _event("reference", "price-out-of-domain", market=_BTC, price="0"),
        ],
    ),
    _boundary_pin(
        "state2-book-level-at-zero",
        "a book level at price 0 is outside the price domain (bad-book); at one tick (0.1) "
        "it is applied",
        ("STATE-2", "STATE-3"),
        "100000",
        [
            _book([["0", "1"]], [], expect="bad-book"),
            _book([["0.1", "1"]], []),
        ],
    ),
    Pin(
        "market12-default-cooldown-is-thirty",
        "a chunk market that leaves out the cooldown waits 30: after alice's step at time 0 "
        "she waits (cooldown) at 29 and gets her next step at 30",
        ("MARKET-12", "LIQ-4"),
        _world(
            "market12-default-cooldown-is-thirty",
            [_long("alice", "700")],
            [_mark("59500"), _clock(29), _clock(30)],
            [market(liquidation={"policy": "chunk", "chunk": "0.1"})],
            books={_BTC: {"bids": [["59490", "5"]], "asks": []}},
        ),
        lambda out: (
            [
                (
                    len(records(out, i, "liquidation-step")),
                    [r["reason"] for r in records(out, i, "liquidation-waiting")],
                )
                for i in range(3)
            ]
            == [(1, []), (0, ["cooldown"]), (1, [])]
        ),
        ("chunk", "boundary"),
    ),
    Pin(
        "market13-default-fair-band-is-a-tenth",
        "a clamped mark without a fair_band uses 0.1: index 60000 and a book at 70000..70010 "
        "give the fair price clamped into the book, 70000, then into 54000..66000: 66000",
        ("MARKET-13", "MARK-3"),
        _world(
            "market13-default-fair-band-is-a-tenth",
            [_cash("carol")],
            [_index("60000"), _book([["70000", "1"]], [["70010", "1"]])],
            [market(mark={"source": "clamped"})],
        ),
        lambda out: [r["mark"] for r in records(out, 1, "mark-derived")] == ["66000"],
        ("mark-clamped",),
    ),
]

_WIDER_RISK = {"vol_window": "2", "slope": "0.00001", "max_multiplier": "1.5", "interval": "10"}
"""_RISING with a window of two returns, evaluated every 10."""

_BOOK_AND_HISTORY_PINS = [
    _boundary_pin(
        "state2-book-level-of-one-lot",
        "a book whose bid and ask are one lot each (0.001 BTC) is applied; a level of size 0 "
        "is refused (bad-book)",
        ("STATE-2", "STATE-3"),
        "100000",
        [
            _book([["59990", "0.001"]], [["60010", "0.001"]]),
            _book([["59990", "0"]], [], expect="bad-book"),
        ],
    ),
    _boundary_pin(
        "state2-two-levels-at-one-price-are-refused",
        "two bids at one price, or two asks at one price, are not strictly ordered (bad-book); "
        "levels one tick apart are applied",
        ("STATE-2", "STATE-3"),
        "100000",
        [
            _book([["59990", "1"], ["59990", "2"]], [], expect="bad-book"),
            _book([], [["60010", "1"], ["60010", "2"]], expect="bad-book"),
            _book([["59990", "1"], ["59989.9", "2"]], [["60010", "1"], ["60010.1", "2"]]),
        ],
    ),
    _file_pin(
        "state2-starting-book-with-two-bids-at-one-price",
        "a scenario whose starting book has two bids at one price is rejected (bad-book)",
        ("STATE-2", "STATE-10"),
        "bad-book",
        _world(
            "state2-starting-book-with-two-bids-at-one-price",
            [_cash("carol")],
            [],
            books={_BTC: {"bids": [["59990", "1"], ["59990", "2"]], "asks": []}},
        ),
    ),
    Pin(
        "brk4-wider-vol-window-does-not-restore-marks",
        "with vol_window 1 the market keeps two marks (66000 at 1 and 2) and forgets the "
        "starting 60000; a parameters event widening vol_window to 2 does not bring it back: "
        "no estimate at 10, and the first one comes with the next mark, 72600",
        ("BRK-4", "RISK-1", "RISK-5"),
        _risk_world(
            "brk4-wider-vol-window-does-not-restore-marks",
            {**_RISING, "interval": "10"},
            [
                _clock(1),
                _mark("66000"),
                _clock(2),
                _mark("66000"),
                _event("parameters", market=_BTC, file=market(risk=_WIDER_RISK)),
                _clock(10),
                _mark("72600"),
            ],
        ),
        lambda out: (
            _adjusted_at(out) == [6]
            and [(r["volatility_ppm"], r["new"]) for r in records(out, 6, "risk-adjusted")]
            == [(70711, "1.1")]
        ),
        ("risk", "parameters"),
    ),
]

_DEFAULT_PINS = [
    Pin(
        "market13-default-basis-window-is-five",
        "a median mark without a basis_window keeps 5 samples: after samples 500 and four of "
        "100 the mark is 60000 + 180; a sixth sample of 100 drops the 500: 60100",
        ("MARKET-13", "MARK-2"),
        _world(
            "market13-default-basis-window-is-five",
            [_cash("carol")],
            [
                _index("60000"),
                _event("trade", market=_BTC, price="61000"),
                _book([["60499", "1"]], [["60501", "1"]]),
                *[_book([["60099", "1"]], [["60101", "1"]]) for _ in range(5)],
            ],
            [market(mark=_MEDIAN)],
        ),
        lambda out: (
            [(i, r["mark"]) for i, r in records_of(out, "mark-derived")][-2:]
            == [(6, "60180"), (7, "60100")]
        ),
        ("mark-median",),
    ),
    Pin(
        "market15-default-slope-is-zero",
        "one 10% return on each market: BTCUSDT, whose [risk] table leaves out the slope, "
        "keeps the multiplier 1 (target 1); CYBERUSDT, with slope 0.00001, rises to 1.1",
        ("MARKET-15", "RISK-2"),
        _world(
            "market15-default-slope-is-zero",
            [],
            [_mark("66000"), _mark("1.1", _CYBER), _clock(60)],
            [
                market(risk={"vol_window": "1", "max_multiplier": "1.5"}),
                _cyber(risk=_RISING),
            ],
        ),
        lambda out: (
            [
                (r["market"], Fraction(r["old"]), Fraction(r["new"]))
                for r in records(out, 2, "risk-adjusted")
            ]
            == [(_CYBER, Fraction(1), Fraction(11, 10))]
            and _adjusted_at(out) == [2]
        ),
        ("risk",),
    ),
]


def _dynamic_off_pin(missing: str, given: Row) -> Pin:
    """Return a pin of a [breakers] table without ``dynamic_<missing>``: the breaker stays off."""
    slug = f"market14-dynamic-{missing}-defaults-to-off"
    shown = " and ".join(f"{key} {value}" for key, value in given.items())
    description = (
        f"a [breakers] table with dynamic_move 5% and {shown} but no dynamic_{missing}: "
        f"the {missing} is 0, so the dynamic breaker is off and a 6.7% move trips nothing"
    )
    document = _carol_in({"dynamic_move": "0.05", **given}, slug, [_mark("56000")])
    return Pin(
        slug,
        description,
        ("MARKET-14", "BRK-4"),
        document,
        lambda out: [_kinds(out, 0)] == [["mark-set"]],
        ("breakers",),
    )


_OFF_BY_DEFAULT_PINS = [
    _dynamic_off_pin("window", {"dynamic_pause": "5"}),
    _dynamic_off_pin("pause", {"dynamic_window": "10"}),
    Pin(
        "market15-default-hysteresis-is-a-hundredth",
        "a [risk] table without hysteresis uses 0.01: a 0.05% return gives the target 1.005, "
        "within 0.01 of the multiplier 1, so nothing moves; a return of 1005 ppm gives "
        "1.01005, just beyond 0.01, and the multiplier moves",
        ("MARKET-15", "RISK-3"),
        _risk_world(
            "market15-default-hysteresis-is-a-hundredth",
            {**_RISING, "interval": "10"},
            [_mark("60030"), _clock(10), _mark("60090.3"), _clock(20)],
        ),
        lambda out: (
            _adjusted_at(out) == [3]
            and [(r["volatility_ppm"], r["target"]) for r in records(out, 3, "risk-adjusted")]
            == [(1005, "1.01005")]
        ),
        ("risk",),
    ),
]

PINS: list[Pin] = [
    *_ORDER_PINS,
    *_BOUNDARY_PINS,
    *_GATE_PINS,
    *_REJECTION_PINS,
    *_MARK_PINS,
    *_BREAKER_PINS,
    *_RISK_PINS,
    *_IMPLIED_PINS,
    *_OPEN_INTEREST_PINS,
    *_ENGINE_MUTANT_PINS,
    *_STATIC_MUTANT_PINS,
    *_BOOK_AND_HISTORY_PINS,
    *_DEFAULT_PINS,
    *_OFF_BY_DEFAULT_PINS,
]
