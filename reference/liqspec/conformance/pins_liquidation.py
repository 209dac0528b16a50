"""Pins of chapters 7 and 8: the liquidation procedure (LIQ-10) and its accounting (§8.1).

Every scenario here starts from BTCUSDT (Binance 2024 brackets, inclusive trigger) at 60000:
one BTC long from 60000 has a maintenance margin of 247.5 at 59500 and 245 at 59000, so an
account's balance says where it is liquidated. The predicates read the expected output with
the helpers below: which account a record names, in which order, with which fields.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from liqspec.conformance.pins import Pin, market, position, records, records_of, scenario, step

__all__ = ["PINS"]

Output = dict[str, Any]

_BTC = "BTCUSDT"
_CYBER = "CYBERUSDT"
_XBT = "XBTUSDT"
_CHUNK = {"policy": "chunk", "chunk": "0.1", "cooldown": "30"}
"""Chunk liquidation: 10% of the position a step, then 30 time units of cooldown."""
_WHOLE = {"policy": "chunk", "chunk": "1"}
"""A chunk policy that aims at the whole position, before the cap and the dust rule."""
_WAIT = {"on_unfilled": "wait"}
"""Wait for liquidity instead of a takeover when nothing fills (while equity is not negative)."""
_HALT = {"halt_levels": ["0.01"], "halt_durations": ["0"]}
"""One halt level: a 1% move from the reference halts until the next reference."""
_LIQUIDATION_KINDS = (
    "liquidation-started",
    "liquidation-step",
    "liquidation-waiting",
    "liquidation-ended",
    "takeover",
    "bad-debt",
)


# --- building scenarios ----------------------------------------------------------------------


def _account(name: str, balance: str, *positions: dict[str, str]) -> dict[str, Any]:
    """Return an account entry in USDT."""
    return {"id": name, "asset": "USDT", "balance": balance, "positions": list(positions)}


def _long(size: str, entry: str = "60000", symbol: str = _BTC) -> dict[str, str]:
    return position(symbol, "long", size, entry)


def _short(size: str, entry: str = "60000", symbol: str = _BTC) -> dict[str, str]:
    return position(symbol, "short", size, entry)


def _mark(price: str, symbol: str = _BTC) -> dict[str, str]:
    return {"kind": "mark", "market": symbol, "price": price}


def _clock(time: str) -> dict[str, str]:
    return {"kind": "clock", "time": time}


def _bids(*levels: tuple[str, str]) -> dict[str, list[list[str]]]:
    """Return a book with these bids and no asks."""
    return {"bids": [list(level) for level in levels], "asks": []}


def _btc_scenario(
    name: str,
    accounts: list[dict[str, Any]],
    events: list[dict[str, Any]],
    *,
    bids: Iterable[tuple[str, str]] = (),
    liquidation: dict[str, str] | None = None,
    breakers: dict[str, Any] | None = None,
    funds: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return a scenario on BTCUSDT alone, marked at 60000, with a book of ``bids``."""
    return _scenario_of(
        name,
        accounts,
        events,
        {_BTC: (market(), "60000", tuple(bids))},
        liquidation={_BTC: liquidation} if liquidation else None,
        breakers={_BTC: breakers} if breakers else None,
        funds=funds,
    )


def _scenario_of(
    name: str,
    accounts: list[dict[str, Any]],
    events: list[dict[str, Any]],
    markets: dict[str, tuple[dict[str, Any], str, tuple[tuple[str, str], ...]]],
    *,
    liquidation: dict[str, dict[str, str]] | None = None,
    breakers: dict[str, dict[str, Any]] | None = None,
    funds: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return a scenario of ``markets``: symbol -> (market document, mark, bids)."""
    tables: dict[str, Any] = {
        "marks": {symbol: mark for symbol, (_, mark, _) in markets.items()},
        "books": {symbol: _bids(*bids) for symbol, (_, _, bids) in markets.items()},
        "funds": funds if funds is not None else {"USDT": "1000"},
    }
    if liquidation:
        tables["liquidation"] = liquidation
    if breakers:
        tables["breakers"] = breakers
    documents = [document for document, _, _ in markets.values()]
    return scenario(name, documents, accounts, events, **tables)


def _bankrupt_long(
    name: str,
    *,
    funds: dict[str, str],
    others: Iterable[dict[str, Any]] = (),
    size: str = "1",
    liquidation: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return alice, ``size`` BTC long from 60000 with 700, marked down to 59000.

    The book is empty: the fund takes the position over at its bankruptcy price, better
    than the mark, so there is a deficit: 300 for 1 BTC (price 59300), 299.0007 for 0.999
    BTC (price 59299.3, the bankruptcy price 59299.2993 rounded up to the tick).
    """
    accounts = [_account("alice", "700", _long(size)), *others]
    return _btc_scenario(name, accounts, [_mark("59000")], funds=funds, liquidation=liquidation)


def _cyber_market() -> dict[str, Any]:
    """Return CYBERUSDT: a second USDT market, maintenance rate 2.5% in its first tier."""
    return market("binance-cyberusdt-2023-08-31")


def _xbt_market() -> dict[str, Any]:
    """Return a copy of BTCUSDT named XBTUSDT: same tiers, same maintenance margin."""
    return market(market={"symbol": _XBT})


# --- reading outputs -------------------------------------------------------------------------


def _about(out: Output, index: int, account: str) -> list[Output]:
    """Return the liquidation records of event ``index`` that name ``account``."""
    return [
        r
        for r in step(out, index)["records"]
        if r["kind"] in _LIQUIDATION_KINDS and r.get("account") == account
    ]


def _kinds(rows: Iterable[Output]) -> list[str]:
    return [r["kind"] for r in rows]


def _sequence(out: Output, index: int, *kinds: str) -> list[tuple[str, str]]:
    """Return (kind, account) of the records of ``kinds`` of event ``index``, in order."""
    return [(r["kind"], r["account"]) for r in step(out, index)["records"] if r["kind"] in kinds]


def _final(out: Output, account: str) -> Output:
    found: Output = next(a for a in out["final"]["accounts"] if a["account"] == account)
    return found


def _reasons(out: Output, index: int) -> list[str]:
    return [r["reason"] for r in records(out, index, "liquidation-waiting")]


def _one(rows: list[Output]) -> list[Output]:
    """Return ``rows`` if it holds exactly one record, else nothing (a predicate then fails)."""
    return rows if len(rows) == 1 else []


def _ins3_shares(deficit: str, sizes: list[str]) -> list[Decimal]:
    """Return the INS-3 shares of ``deficit`` (USDT, in 10^-8 quantums) over ``sizes``."""
    quantums = int(Decimal(deficit) * 10**8)
    total = sum(Fraction(size) for size in sizes)
    cuts, done = [0], Fraction(0)
    for size in sizes:
        done += Fraction(size)
        cuts.append(math.floor(quantums * done / total))
    return [Decimal(b - a) / 10**8 for a, b in itertools.pairwise(cuts)]


def _shares(deleveraged: Output) -> list[Decimal]:
    return [Decimal(a["share"]) for a in deleveraged["allocations"]]


def _nominal_fee(rate: str, levels: list[list[str]]) -> Decimal:
    """Return the fee ``rate`` on the executed value of a linear step's ``levels``, unrounded."""
    return Decimal(rate) * sum((Decimal(p) * Decimal(lots) for p, lots in levels), Decimal(0))


# --- the pins --------------------------------------------------------------------------------


def _defaults_hold(out: Output) -> bool:
    """Return whether the step used MARKET-12's defaults (health, 5% impact, 0.1% fee, 2%)."""
    found = [_one(records(out, 0, kind)) for kind in ("liquidation-step", "fund-change",
                                                        "liquidation-ended")]  # fmt: skip
    if not all(found):
        return False
    (step_,), (fee,), (ended,) = found
    value = sum(Decimal(price) * Decimal(size) for price, size in step_["levels"])
    maintenance = Decimal(ended["maintenance"])
    buffer = math.ceil(maintenance * Decimal("0.02") * 10**8) / Decimal(10**8)
    return (
        step_["policy"] == "health"
        and Decimal(step_["impact_limit"]) == Decimal("59500") * Decimal("0.95")
        and Decimal(step_["fee"]) == value * Decimal("0.001")
        and fee["fund"] == "USDT"
        and Decimal(ended["threshold"]) == maintenance + buffer
    )


def _fine_market(trigger: str = "inclusive") -> dict[str, Any]:
    """Return BTCUSDT with tick 0.01 and lot 0.000001: one lot over one tick is one quantum."""
    return market(market={"price_tick": "0.01", "lot_size": "0.000001", "trigger": trigger})


# --- the optimal policy (LIQ-11) ---------------------------------------------------------------


def _optimal(
    name: str,
    events: list[dict[str, Any]],
    *,
    aversion: str = "0.000001",
    window: str = "1",
    asks: Iterable[tuple[str, str]] = (("60610", "2"),),
    size: str = "1",
    balance: str = "200",
    risk: dict[str, str] | None = None,
    liquidation: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return carol, short ``size`` BTC from 60600 with ``balance`` USDT, under ``optimal``.

    At 60000 she is healthy; the mark 60600 after 60000 is a 1% return (sigma 10,000 ppm with
    a window of one), her equity is 200 against an MM of 253, and the book asks ``asks``.
    """
    table = {
        "policy": "optimal",
        "risk_aversion": aversion,
        "cooldown": "30",
        **(liquidation or {}),
    }
    return scenario(
        name,
        [market()],
        [_account("carol", balance, _short(size, "60600"))],
        events,
        marks={_BTC: "60000"},
        books={_BTC: {"bids": [], "asks": [list(level) for level in asks]}},
        funds={"USDT": "1000"},
        liquidation={_BTC: table},
        risk={_BTC: {"vol_window": window, **(risk or {})}},
    )


def _sized(out: Output, index: int) -> list[tuple[str, str, list[str]]]:
    """(volatility source, chosen, considered lots) of each liquidation-sized of a step."""
    return [
        (r["volatility_source"], r["chosen"], [c["lots"] for c in r["considered"]])
        for r in records(out, index, "liquidation-sized")
    ]


_RISE = [_mark("60000"), _mark("60600")]
"""Two marks: the first records 60000, the second is the 1% return that liquidates carol."""


def _targets_are(target: str) -> Callable[[Output], bool]:
    """Return the predicate: the first event's one liquidation step targets ``target``."""
    return lambda out: [r["target"] for r in records(out, 0, "liquidation-step")] == [target]


_CHUNK_ROUNDING_PINS = [
    Pin(
        f"liq4-chunk-{name}",
        f"alice's 1 BTC (1000 lots) with chunk {share} and chunk_rounding {rounding}: "
        f"{share} x 1000 lots is {lots}, so the step targets {target}",
        ("LIQ-4", "MARKET-12"),
        _btc_scenario(
            f"liq4-chunk-{name}",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "5")],
            liquidation={**_CHUNK, "chunk": share, "chunk_rounding": rounding},
        ),
        _targets_are(target),
        ("chunk", "boundary"),
    )
    for name, share, rounding, lots, target in (
        ("rounded-down-takes-the-floor", "0.0015", "down", "1.5", "0.001"),
        ("rounded-up-takes-the-ceiling", "0.0015", "up", "1.5", "0.002"),
        ("rounded-down-is-at-least-one-lot", "0.0005", "down", "0.5", "0.001"),
        ("rounded-down-whole-share-is-unchanged", "0.25", "down", "250", "0.25"),
    )
]

_TIER_TARGET_PINS = [
    Pin(
        f"liq4-tier-target-{name}",
        f"bob holds {size} BTC from 60000 ({tier}) under tier-step with tier_target "
        f"{goal}: the step targets {target}",
        ("LIQ-4", "MARKET-12"),
        _btc_scenario(
            f"liq4-tier-target-{name}",
            [_account("bob", balance, _long(size))],
            [_mark("59000")],
            bids=[("58990", "20")],
            liquidation={"policy": "tier-step", "tier_target": goal},
        ),
        _targets_are(target),
        ("tier-step", "boundary"),
    )
    for name, size, balance, tier, goal, target in (
        ("first-from-the-third-tier", "12", "13000", "tier 3", "first", "11.153"),
        ("next-from-the-third-tier", "12", "13000", "tier 3", "next", "1.831"),
        ("first-in-the-second-tier-is-whole", "2", "2500", "tier 2", "first", "2"),
        ("next-in-the-second-tier", "2", "2500", "tier 2", "next", "1.153"),
    )
]


def _bilateral(name: str, bob_balance: str) -> dict[str, Any]:
    """Alice's 300 deficit (no fund) under bilateral deleveraging (INS-7).

    Bob is short 1 BTC from the mark (PnL 0), carol short 1 BTC from 60000 (in profit).
    """
    others = [
        _account("bob", bob_balance, _short("1", "59000")),
        _account("carol", "5000", _short("1")),
    ]
    return _bankrupt_long(name, funds={}, others=others, liquidation={"deleveraging": "bilateral"})


def _allocations(out: Output) -> list[tuple[str, str, str, str]]:
    return [
        (a["account"], a["score"], a["size"], a["share"])
        for r in _one(records(out, 0, "deleveraged"))
        for a in r["allocations"]
        if r["method"] == "bilateral"
    ]


_BILATERAL_PINS = [
    Pin(
        "ins7-bilateral-takes-the-first-holder-by-id-not-in-profit",
        "alice's 1 BTC taken over at 59300 leaves a 300 deficit: bob's short, opened at the "
        "mark (no profit, which ADL would require), is first by id and takes the whole "
        "position; carol, in profit, is untouched",
        ("INS-7", "INS-3", "OUT-6"),
        _bilateral("ins7-bilateral-takes-the-first-holder-by-id-not-in-profit", "5000"),
        lambda out: (
            _allocations(out) == [("bob", "id-order", "1", "300")]
            and _final(out, "bob")["balance"] == "4700"
            and _final(out, "carol")["positions"] != []
        ),
    ),
    Pin(
        "ins7-bilateral-passes-over-a-holder-it-would-bankrupt",
        "bob, healthy with 250, would be left at -50 by his 300 share: he is passed over "
        "and carol, next by id, takes the position",
        ("INS-7", "OUT-6"),
        _bilateral("ins7-bilateral-passes-over-a-holder-it-would-bankrupt", "250"),
        lambda out: (
            _allocations(out) == [("carol", "id-order", "1", "300")]
            and _final(out, "bob")["balance"] == "250"
        ),
    ),
]

_RAMP = {
    "policy": "chunk", "chunk": "0.1", "cooldown": "10", "fee": "0",
    "liquidator_fee": "0.001", "liquidator_fee_step": "0.0001", "liquidator_fee_grace": "20",
    "liquidator_fee_max": "0.0035",
}  # fmt: skip


def _fees(out: Output) -> list[tuple[int, str, str]]:
    """(event index, elapsed, liquidator_rate) of every liquidation-fees record."""
    return [
        (step["index"], str(r["elapsed"]), r["liquidator_rate"])
        for step in out["steps"]
        for r in step["records"] or ()
        if r["kind"] == "liquidation-fees"
    ]


def _implied_rate(out: Output) -> bool:
    """LIQ-12 recomputed from the started record: (r - l - S/N) x 19/20 with N = 59500."""
    (started,) = records(out, 0, "liquidation-started")
    (fees,) = records(out, 0, "liquidation-fees")
    notional = Fraction(59500)
    maintenance, equity = Fraction(started["maintenance"]), Fraction(started["equity"])
    room = (maintenance - Fraction("0.0005") * notional - (maintenance - equity)) / notional
    expected = min(Fraction("0.003"), room * Fraction(19, 20))
    return Fraction(fees["fund_rate"]) == expected < Fraction("0.003")


_SPLIT_FEE_PINS = [
    Pin(
        "liq12-liquidator-fee-ramps-after-the-grace",
        "a liquidator fee of 0.001 that ramps by 0.0001 a clock unit after a grace of 20, up "
        "to 0.0035: steps 10 apart pay 0.001 at 0 and 10, then 0.003 at 20 (the whole 20 "
        "counts) and 0.0035 at 30 (capped)",
        ("LIQ-12", "MARKET-12", "OUT-3"),
        _btc_scenario(
            "liq12-liquidator-fee-ramps-after-the-grace",
            [_account("alice", "700", _long("1"))],
            [_mark("59500"), _clock("10"), _clock("20"), _clock("30")],
            bids=[("59490", "5")],
            liquidation=_RAMP,
        ),
        lambda out: (
            [(e, rate) for _, e, rate in _fees(out)]
            == [("0", "0.001"), ("10", "0.001"), ("20", "0.003"), ("30", "0.0035")]
        ),
        ("chunk", "boundary"),
    ),
    Pin(
        "liq12-implied-fund-fee-from-the-shortage",
        "under fee_rule implied the fund's rate is 19/20 of the maintenance rate less the "
        "liquidator's 0.0005 and the shortage per unit of notional, here below the 0.003 cap",
        ("LIQ-12", "OUT-3"),
        _btc_scenario(
            "liq12-implied-fund-fee-from-the-shortage",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "5")],
            liquidation={
                **_CHUNK,
                "fee": "0.003",
                "fee_rule": "implied",
                "liquidator_fee": "0.0005",
            },
        ),
        _implied_rate,
        ("chunk",),
    ),
]

_FILLABLE = {"limit_rule": "fillable", "spread_to_maintenance": "1.5001"}


def _fillable(name: str, fund: str, **limits: str) -> dict[str, Any]:
    """Alice's 1 BTC from 60000 on 700, marked at 59000 (E -300, MM 245), bids at 58700."""
    return _btc_scenario(
        name,
        [_account("alice", "700", _long("1"))],
        [_mark("59000")],
        bids=[("58700", "5")],
        liquidation={**_FILLABLE, **limits},
        funds={"USDT": fund},
    )


def _covers(out: Output) -> list[str]:
    return [r["delta"] for r in records(out, 0, "fund-change") if r["cause"] == "deficit"]


def _cover_pin(
    slug: str,
    description: str,
    rules: tuple[str, ...],
    *,
    fund: str,
    limits: dict[str, str],
    result: tuple[str, str],
) -> Pin:
    """Return a pin of LIQ-13's cover: (executed, surplus), the fund paying exactly -surplus."""
    executed, surplus = result
    return Pin(
        slug, description, rules, _fillable(slug, fund, **limits),
        lambda out: [
            (r["executed"], r["surplus"]) for r in _one(records(out, 0, "liquidation-step"))
        ] == [(executed, surplus)]
        and _covers(out) == [surplus],
        ("boundary",),
    )  # fmt: skip


_COVER_PINS = [
    _cover_pin(
        "liq13-a-small-fund-limits-the-fills-it-must-cover",
        "the same step with a fund of 300: 0.49 BTC sold at 58700 leave 299.62040817 below "
        "the ratio-preserving quote, which the fund pays; 0.5 BTC would leave 305.51020409, "
        "more than it has, so the fills stop at 0.49",
        ("LIQ-13", "INS-2"),
        fund="300",
        limits={},
        result=("0.49", "-299.62040817"),
    ),
    _cover_pin(
        "liq13-the-step-cap-limits-the-cover",
        "a fund of 1000 with insurance_step_cap 300 covers as a fund of 300 would: the fills "
        "stop at 0.49 BTC, whose shortfall 299.62040817 it pays",
        ("LIQ-13", "INS-2"),
        fund="1000",
        limits={"insurance_step_cap": "300"},
        result=("0.49", "-299.62040817"),
    ),
    _cover_pin(
        "liq13-the-drawdown-floor-limits-the-cover",
        "a fund of 1000 with adl_drawdown 0.7 (window 0: the peak is the balance) pays nothing "
        "below 300, so it covers at most 700 and the whole BTC (shortfall 600) still fills",
        ("LIQ-13", "INS-8"),
        fund="1000",
        limits={"adl_drawdown": "0.7"},
        result=("1", "-600"),
    ),
    _cover_pin(
        "liq13-a-low-drawdown-floor-stops-the-fills",
        "with adl_drawdown 0.3 the same fund pays nothing below 700, so it covers at most 300: "
        "the fills stop at 0.49 BTC, as with a fund of 300",
        ("LIQ-13", "INS-8"),
        fund="1000",
        limits={"adl_drawdown": "0.3"},
        result=("0.49", "-299.62040817"),
    ),
]

_FILLABLE_PINS = [
    Pin(
        "liq13-a-short-s-fillable-price-rounds-down",
        "bob's 1 BTC short from 60000 on 700, marked at 61000 (E -300, MM 255): the fillable "
        "price is 61000 + 1.5001 x 255 = 61382.5255, down to 61382.5 on the tick (a buy); he "
        "buys at 61300, 600 worse than his bankruptcy quote, and the fund covers it",
        ("LIQ-13", "LIQ-7"),
        _btc_scenario(
            "liq13-a-short-s-fillable-price-rounds-down",
            [_account("bob", "700", _short("1"))],
            [
                {"kind": "book", "market": _BTC, "bids": [], "asks": [["61300", "5"]]},
                _mark("61000"),
            ],
            liquidation=_FILLABLE,
        ),
        lambda out: (
            [
                (r["limit_reason"], r["limit_price"], r["surplus"])
                for r in _one(records(out, 1, "liquidation-step"))
            ]
            == [("fillable-price", "61382.5", "-600")]
        ),
        ("boundary",),
    ),
    Pin(
        "liq13-fillable-price-lets-the-fund-cover-a-fill-below-the-quote",
        "E -300 below MM 245 gives ABR 1: the fillable price is 59000 - 1.5001 x 245 = "
        "58632.4755, up to 58632.5 on the tick (a sell), the limit; the whole BTC sells at "
        "58700, 600 below the bankruptcy quote 59300, and the fund (1000) pays those 600: "
        "alice ends at 0",
        ("LIQ-13", "LIQ-7", "LIQ-8", "OUT-3", "INS-2"),
        _fillable("liq13-fillable-price-lets-the-fund-cover-a-fill-below-the-quote", "1000"),
        lambda out: (
            [
                (r["limit_reason"], r["limit_price"], r["surplus"], r["executed"])
                for r in _one(records(out, 0, "liquidation-step"))
            ]
            == [("fillable-price", "58632.5", "-600", "1")]
            and _covers(out) == ["-600"]
            and _final(out, "alice")["balance"] == "0"
        ),
        ("boundary",),
    ),
    Pin(
        "liq13-a-fill-above-the-quote-pays-the-fee-and-no-cover",
        "under the fillable rule a fill above the ratio-preserving quote is an ordinary step: "
        "the health target, 0.931 BTC, sells at 59400, leaving a surplus of 92.33959183, so "
        "the 0.1% fee (55.3014) is charged in full and the fund covers nothing",
        ("LIQ-13", "LIQ-8"),
        _btc_scenario(
            "liq13-a-fill-above-the-quote-pays-the-fee-and-no-cover",
            [_account("alice", "700", _long("1"))],
            [_mark("59000")],
            bids=[("59400", "5")],
            liquidation=_FILLABLE,
        ),
        lambda out: (
            [
                (r["executed"], r["surplus"], r["fee"])
                for r in _one(records(out, 0, "liquidation-step"))
            ]
            == [("0.931", "92.33959183", "55.3014")]
            and _covers(out) == []
        ),
        ("boundary",),
    ),
    Pin(
        "liq5-min-step-notional-raises-the-target",
        "chunk 0.1 of 1 BTC (5,950 at 59500) is below a min_step_notional of 10,000: the target "
        "is raised to 0.168 BTC (9,996), the floor rounded down to a lot as dYdX does (0.169 "
        "would be 10,055.5)",
        ("LIQ-5", "MARKET-12"),
        _btc_scenario(
            "liq5-min-step-notional-raises-the-target",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "5")],
            liquidation={**_CHUNK, "min_step_notional": "10000"},
        ),
        _targets_are("0.168"),
        ("chunk", "boundary"),
    ),
]

_DRAWDOWN = {"adl_drawdown": "0.3", "adl_window": "100"}


def _drawdowns(out: Output) -> list[tuple[int, str, str, str]]:
    """(event index, peak, floor, balance) of every fund-drawdown record."""
    return [
        (step["index"], r["peak"], r["floor"], r["balance"])
        for step in out["steps"]
        for r in step["records"] or ()
        if r["kind"] == "fund-drawdown"
    ]


def _drawdown_at(name: str, time: str) -> dict[str, Any]:
    """Alice's 300 paid at time 0 (1000 to 700), then carol's 300 at ``time`` (INS-8)."""
    return _btc_scenario(
        name,
        [
            _account("alice", "700", _long("1")), _account("carol", "1700", _long("1")),
            _account("dave", "10000", _short("2", "61000")),
        ],
        [_mark("59000"), _clock(time), _mark("58000")],
        liquidation=_DRAWDOWN,
    )  # fmt: skip


_DRAWDOWN_PINS = [
    Pin(
        "ins8-a-balance-replaced-inside-the-window-still-counts",
        "at time 99 the 1000 replaced at 0 is inside the window of 100: the peak is 1000 and the "
        "floor 700, so the fund at 700 pays nothing of carol's 300",
        ("INS-8",),
        _drawdown_at("ins8-a-balance-replaced-inside-the-window-still-counts", "99"),
        lambda out: (
            _drawdowns(out) == [(2, "1000", "700", "700")]
            and [r["deficit"] for r in records(out, 2, "deleveraged")] == ["300"]
        ),
        ("boundary",),
    ),
    Pin(
        "ins8-the-fund-stops-at-its-drawdown-floor",
        "alice's and carol's longs are taken over at 59300 with the mark at 59000, 300 short "
        "each; the fund of 1000 pays alice's 300 down to 700, which is 30% under its peak of "
        "1000, so it pays nothing of carol's and dave's short takes all 300 by ADL",
        ("INS-8", "INS-2", "INS-4", "OUT-5"),
        _btc_scenario(
            "ins8-the-fund-stops-at-its-drawdown-floor",
            [
                _account("alice", "700", _long("1")),
                _account("carol", "700", _long("1")),
                _account("dave", "10000", _short("2", "61000")),
            ],
            [_mark("59000")],
            liquidation=_DRAWDOWN,
        ),
        lambda out: (
            _drawdowns(out) == [(0, "1000", "700", "700")]
            and [r["deficit"] for r in records(out, 0, "deleveraged")] == ["300"]
        ),
        ("boundary",),
    ),
    Pin(
        "ins8-the-peak-looks-back-adl-window-only",
        "the fund pays alice's 300 at time 0 (1000 to 700); at time 100 the 1000 was replaced "
        "exactly the window of 100 ago, so it no longer counts: the peak is 700 and the floor "
        "490, so of carol's 300 it pays 210 and ADL takes 90",
        ("INS-8", "INS-2"),
        _btc_scenario(
            "ins8-the-peak-looks-back-adl-window-only",
            [
                _account("alice", "700", _long("1")),
                _account("carol", "1700", _long("1")),
                _account("dave", "10000", _short("2", "61000")),
            ],
            [_mark("59000"), _clock("100"), _mark("58000")],
            liquidation=_DRAWDOWN,
        ),
        lambda out: (
            _drawdowns(out) == [(2, "700", "490", "700")]
            and [r["delta"] for r in records(out, 2, "fund-change")] == ["-210"]
            and [r["deficit"] for r in records(out, 2, "deleveraged")] == ["90"]
        ),
        ("boundary",),
    ),
]

_SURPLUS_FEE = {**_CHUNK, "fee": "1", "fee_limit": "surplus"}

_FEE_LIMIT_PINS = [
    Pin(
        "liq8-fee-of-one-takes-the-whole-surplus",
        "under fee_limit = surplus a fee rate of 1 on 0.1 BTC sold at 59490 is nominally "
        "5949, but the fills earned 23.04040404 above the bankruptcy quote: the fund takes "
        "exactly that",
        ("LIQ-8", "MARKET-12"),
        _btc_scenario(
            "liq8-fee-of-one-takes-the-whole-surplus",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "5")],
            liquidation=_SURPLUS_FEE,
        ),
        lambda out: (
            [(r["fee"], r["surplus"]) for r in _one(records(out, 0, "liquidation-step"))]
            == [("23.04040404", "23.04040404")]
        ),
        ("chunk", "boundary"),
    ),
    Pin(
        "liq8-fee-of-one-on-a-full-close-takes-all-equity-left",
        "alice's 1 BTC from 60000 with 700 is sold whole at 59490 (chunk 1): 190 is left, "
        "no maintenance remains, so the surplus is all of it and a fee rate of 1 takes it; "
        "her balance ends at 0 (dYdX's 100% fee)",
        ("LIQ-8", "MARKET-12"),
        _btc_scenario(
            "liq8-fee-of-one-on-a-full-close-takes-all-equity-left",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "5")],
            liquidation={**_SURPLUS_FEE, "chunk": "1"},
        ),
        lambda out: (
            [r["fee"] for r in _one(records(out, 0, "liquidation-step"))] == ["190"]
            and _final(out, "alice")["balance"] == "0"
        ),
        ("chunk", "boundary"),
    ),
]

_TIER_FLOOR_PIN = Pin(
    "liq4-tier-step-remainder-on-the-floor-is-not-below",
    "bob's 2 BTC at a mark of 50000 are worth 100,000 (tier 2, floor 50,000): closing 1 BTC "
    "would leave exactly 50,000, on the floor and not below it, so the step targets 1.001",
    ("LIQ-4",),
    _btc_scenario(
        "liq4-tier-step-remainder-on-the-floor-is-not-below",
        [_account("bob", "20300", _long("2"))],
        [_mark("50000")],
        bids=[("49990", "20")],
        liquidation={"policy": "tier-step"},
    ),
    _targets_are("1.001"),
    ("tier-step", "boundary"),
)

_OPTIMAL_PINS = [
    Pin(
        "liq11-vertex-rounded-down-wins",
        "carol (short 1 BTC, E 200 < MM 253 at 60600) is sized by optimal with lambda 1e-6: "
        "buying d BTC at 60610 costs 10d, the rest risks 11.01708 (1 - d)^2; the health "
        "target is 0.268 and the vertex 0.54616 lies between 0.546 (cost 7.73079646128) and "
        "0.547 (7.73080396972): the step targets 0.546",
        ("LIQ-11", "LIQ-4", "OUT-3"),
        _optimal("liq11-vertex-rounded-down-wins", _RISE),
        lambda out: (
            _sized(out, 1) == [("realised", "0.546", ["0.268", "0.546", "0.547", "1"])]
            and [r["risk"] for r in records(out, 1, "liquidation-sized")[0]["considered"]][1:3]
            == ["2.27079646128", "2.26080396972"]
            and [r["target"] for r in records(out, 1, "liquidation-step")] == ["0.546"]
            and _sequence(out, 1, "liquidation-sized", "liquidation-step")
            == [("liquidation-sized", "carol"), ("liquidation-step", "carol")]
        ),
        ("optimal",),
        ("INV-OPTIMAL-MONOTONE",),
    ),
    Pin(
        "liq11-vertex-rounded-up-wins",
        "the same with lambda 1.2e-6: the vertex 0.62180 lies between 0.621 (cost "
        "8.109005265936) and 0.622 (8.108997350464): the step targets 0.622",
        ("LIQ-11", "LIQ-4"),
        _optimal("liq11-vertex-rounded-up-wins", _RISE, aversion="0.0000012"),
        lambda out: _sized(out, 1) == [("realised", "0.622", ["0.268", "0.621", "0.622", "1"])],
        ("optimal",),
        ("INV-OPTIMAL-MONOTONE",),
    ),
    Pin(
        "liq11-no-estimate-sizes-like-health",
        "without a volatility window there is no estimate: sigma is 0 (source none), no "
        "lot is at risk, and the least cost is the health target, 0.268",
        ("LIQ-11", "LIQ-4"),
        _optimal("liq11-no-estimate-sizes-like-health", _RISE, window="0"),
        lambda out: (
            _sized(out, 1) == [("none", "0.268", ["0.268", "1"])]
            and records(out, 1, "liquidation-sized")[0]["volatility_ppm"] == 0
            and [r["target"] for r in records(out, 1, "liquidation-step")] == ["0.268"]
        ),
        ("optimal", "boundary"),
    ),
    Pin(
        "liq11-implied-volatility-sizes-the-step",
        "with no volatility window but source implied and an implied 10,000 ppm event, "
        "sigma is the implied value: the step is sized as with a realised 1% return, 0.546",
        ("LIQ-11", "RISK-8"),
        _optimal(
            "liq11-implied-volatility-sizes-the-step",
            [{"kind": "implied-volatility", "market": _BTC, "volatility": "10000"}, *_RISE],
            window="0",
            risk={"source": "implied"},
        ),
        lambda out: _sized(out, 2) == [("implied", "0.546", ["0.268", "0.546", "0.547", "1"])],
        ("optimal", "risk"),
    ),
    Pin(
        "liq11-no-implied-value-falls-back-to-realised",
        "under source implied with no implied-volatility event, the realised 1% return "
        "stands in (realised-fallback) and sizes the step, 0.546",
        ("LIQ-11", "RISK-8"),
        _optimal(
            "liq11-no-implied-value-falls-back-to-realised", _RISE, risk={"source": "implied"}
        ),
        lambda out: (
            _sized(out, 1) == [("realised-fallback", "0.546", ["0.268", "0.546", "0.547", "1"])]
        ),
        ("optimal", "risk"),
    ),
    Pin(
        "liq11-fills-better-than-the-mark-take-more",
        "asks at 60590, under the mark 60600: buying costs less than nothing (impact -10 a "
        "BTC), so even with lambda 0 the least cost is the whole position, not the health "
        "target 0.241",
        ("LIQ-11",),
        _optimal(
            "liq11-fills-better-than-the-mark-take-more", _RISE, aversion="0", asks=[("60590", "2")]
        ),
        lambda out: (
            _sized(out, 1) == [("realised", "1", ["0.241", "1"])]
            and [c["impact"] for r in records(out, 1, "liquidation-sized") for c in r["considered"]]
            == ["-2.41", "-10"]
        ),
        ("optimal", "boundary"),
    ),
    Pin(
        "liq11-a-level-at-the-limit-and-the-rest-are-two-runs",
        "with impact_bound 0.0005 the limit is 60630: asks of 0.5 at 60610 and 0.2 exactly "
        "at the limit, the other 0.3 assumed there too, are three runs, so 0.7 (the end of "
        "the level at the limit) is a candidate of its own",
        ("LIQ-11",),
        _optimal(
            "liq11-a-level-at-the-limit-and-the-rest-are-two-runs",
            _RISE,
            asks=[("60610", "0.5"), ("60630", "0.2")],
            liquidation={"impact_bound": "0.0005"},
        ),
        lambda out: [lots for _, _, lots in _sized(out, 1)] == [["0.268", "0.5", "0.7", "1"]],
        ("optimal", "boundary"),
    ),
    Pin(
        "liq11-equal-costs-take-the-fewest-lots",
        "asks at the mark cost nothing and lambda 0 risks nothing: every candidate costs 0, "
        "and the fewest lots, the health target 0.254, win",
        ("LIQ-11",),
        _optimal(
            "liq11-equal-costs-take-the-fewest-lots", _RISE, aversion="0", asks=[("60600", "2")]
        ),
        lambda out: (
            _sized(out, 1) == [("realised", "0.254", ["0.254", "1"])]
            and {
                (c["impact"], c["risk"])
                for r in records(out, 1, "liquidation-sized")
                for c in r["considered"]
            }
            == {("0", "0")}
        ),
        ("optimal", "boundary"),
    ),
    Pin(
        "liq11-empty-book-prices-every-lot-at-the-impact-limit",
        "with no asks every lot is expected at the impact limit (63630): one run, the health "
        "target cannot be reached short of the whole position, so the only candidate is 1 BTC; "
        "nothing fills and the fund takes the position over",
        ("LIQ-11", "LIQ-4", "LIQ-9"),
        _optimal("liq11-empty-book-prices-every-lot-at-the-impact-limit", _RISE, asks=()),
        lambda out: (
            _sized(out, 1) == [("realised", "1", ["1"])]
            and [r["size"] for r in records(out, 1, "takeover")] == ["1"]
        ),
        ("optimal", "boundary"),
    ),
    Pin(
        "liq11-single-lot-is-the-only-candidate",
        "a position of one lot (0.001 BTC, 0.2 USDT against an MM of 0.2424) has one "
        "candidate, itself",
        ("LIQ-11",),
        _optimal("liq11-single-lot-is-the-only-candidate", _RISE, size="0.001", balance="0.2"),
        lambda out: (
            all(sized[1:] == ("0.001", ["0.001"]) for sized in _sized(out, 1))
            and len(_sized(out, 1)) == 1
        ),
        ("optimal", "boundary"),
    ),
    Pin(
        "liq11-optimal-steps-wait-out-the-cooldown",
        "the book asks only 0.1 BTC within the impact limit, so after carol's first step she "
        "is still in liquidation; a mark inside her 30 s cooldown gives liquidation-waiting "
        "(cooldown) and no sizing, and the clock past it her next sized step",
        ("LIQ-11", "LIQ-10", "LIQ-4"),
        _optimal(
            "liq11-optimal-steps-wait-out-the-cooldown",
            [*_RISE, _clock("10"), _mark("60650"), _clock("40")],
            asks=[("60610", "0.1"), ("64000", "2")],
        ),
        lambda out: (
            len(records(out, 1, "liquidation-step")) == 1
            and _reasons(out, 3) == ["cooldown"]
            and not records(out, 3, "liquidation-sized")
            and len(_sized(out, 4)) == 1
        ),
        ("optimal",),
    ),
]


_ENGINE_MUTANT_PINS = [
    Pin(
        "ins2-step-cap-of-one-quantum",
        "an insurance_step_cap of one quantum (0.00000001) still caps: the fund of 1000 pays "
        "0.00000001 of the 300 deficit and the rest, 299.99999999, goes to ADL",
        ("INS-2", "LIQ-9", "OUT-5"),
        _bankrupt_long(
            "ins2-step-cap-of-one-quantum",
            funds={"USDT": "1000"},
            liquidation={"insurance_step_cap": "0.00000001"},
        ),
        lambda out: (
            [(r["delta"], r["balance"], r["cause"]) for r in records(out, 0, "fund-change")]
            == [("-0.00000001", "999.99999999", "deficit")]
            and [r["deficit"] for r in records(out, 0, "deleveraged")] == ["299.99999999"]
        ),
        ("boundary",),
    ),
    Pin(
        "liq2-equity-equal-to-the-threshold-ends-the-steps",
        "alice waits for liquidity at 59990; at 60000 her equity, 255, equals her exit "
        "threshold exactly (MM 250 plus the 2% buffer): her liquidation ends, with no step "
        "and no waiting",
        ("LIQ-2", "LIQ-10"),
        _btc_scenario(
            "liq2-equity-equal-to-the-threshold-ends-the-steps",
            [_account("alice", "255", _long("1"))],
            [_mark("59990"), _mark("60000")],
            liquidation=_WAIT,
        ),
        lambda out: (
            _kinds(_about(out, 0, "alice")) == ["liquidation-started", "liquidation-waiting"]
            and _kinds(_about(out, 1, "alice")) == ["liquidation-ended"]
            and (_final(out, "alice")["equity"], _final(out, "alice")["maintenance"])
            == ("255", "250")
        ),
        ("boundary",),
    ),
    Pin(
        "liq4-health-target-lands-exactly-on-the-threshold",
        "closing 0.2 BTC at 59490 leaves E' - fee = 194.208, exactly the exit threshold "
        "after the close: the health target is 0.2, not one lot more, and the step ends "
        "the liquidation with equity equal to the threshold",
        ("LIQ-4", "LIQ-2", "LIQ-8"),
        _btc_scenario(
            "liq4-health-target-lands-exactly-on-the-threshold",
            [_account("alice", "708.106", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "5")],
        ),
        lambda out: (
            [(r["target"], r["fee"]) for r in records(out, 0, "liquidation-step")]
            == [("0.2", "11.898")]
            and [(r["equity"], r["threshold"]) for r in records(out, 0, "liquidation-ended")]
            == [("194.208", "194.208")]
        ),
        ("boundary",),
    ),
    Pin(
        "liq6-quote-at-the-lowest-grid-price",
        "with the mark at 0.1, one tick, selling at 0.1 keeps E/MM: the bankruptcy quote is "
        "the lowest grid price itself and the step sells the whole position into the bid "
        "at 0.1",
        ("LIQ-6", "LIQ-7", "LIQ-10"),
        _btc_scenario(
            "liq6-quote-at-the-lowest-grid-price",
            [_account("alice", "0.1", _long("1", "0.2"))],
            [_mark("0.1")],
            bids=[("0.1", "5")],
        ),
        lambda out: (
            [(r["bankruptcy_limit"], r["levels"]) for r in records(out, 0, "liquidation-step")]
            == [("0.1", [["0.1", "1"]])]
        ),
        ("boundary",),
    ),
    Pin(
        "liq6-short-quote-at-the-lowest-grid-price",
        "a short of 1 BTC entered at 0.1, one tick, on no cash: with the mark at 0.2 only "
        "buying back at 0.1 keeps E >= 0, so the bankruptcy quote of a buy is the lowest grid "
        "price, the best one; with no ask the fund takes the short over at 0.1",
        ("LIQ-6", "LIQ-9"),
        _btc_scenario(
            "liq6-short-quote-at-the-lowest-grid-price",
            [_account("alice", "0", _short("1", "0.1"))],
            [_mark("0.2")],
        ),
        lambda out: (
            [(r["price"], r["size"]) for r in records(out, 0, "takeover")] == [("0.1", "1")]
        ),
        ("boundary",),
    ),
    Pin(
        "liq7-level-left-with-one-lot-stays-in-the-book",
        "alice's chunk step takes 0.1 of the 0.101 BTC bid at 59490; the one lot left stays "
        "in the book and bob's step, at the same mark, takes it before the 59480 level",
        ("LIQ-7", "STATE-2", "LIQ-3"),
        _btc_scenario(
            "liq7-level-left-with-one-lot-stays-in-the-book",
            [_account("alice", "700", _long("1")), _account("bob", "720", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "0.101"), ("59480", "5")],
            liquidation=_CHUNK,
        ),
        lambda out: (
            [(r["account"], r["levels"]) for r in records(out, 0, "liquidation-step")]
            == [
                ("alice", [["59490", "0.1"]]),
                ("bob", [["59490", "0.001"], ["59480", "0.099"]]),
            ]
        ),
        ("chunk", "boundary"),
    ),
    Pin(
        "liq9-takeover-gain-of-one-quantum",
        "one lot (0.000001 BTC) taken over at 59000 with the mark at 59000.01: the fund's "
        "gain is one quantum, 0.00000001, and it is credited with a fund-change record",
        ("LIQ-9", "INS-1", "OUT-4", "OUT-5"),
        _scenario_of(
            "liq9-takeover-gain-of-one-quantum",
            [_account("alice", "0.001", _long("0.000001"))],
            [_mark("59000.01")],
            {_BTC: (_fine_market(), "60000", ())},
        ),
        lambda out: (
            [(r["price"], r["fund_delta"]) for r in records(out, 0, "takeover")]
            == [("59000", "0.00000001")]
            and [(r["delta"], r["cause"]) for r in records(out, 0, "fund-change")]
            == [("0.00000001", "takeover")]
            and out["final"]["funds"] == {"USDT": "1000.00000001"}
        ),
        ("boundary",),
    ),
    Pin(
        "ins4-counterparty-with-pnl-of-one-quantum",
        "bob's short of one lot from 59000.01, marked at 59000, has a PnL of one quantum: he "
        "is a counterparty and ADL closes his lot for its INS-3 share, 0.0003",
        ("INS-4", "INS-3", "OUT-6"),
        _scenario_of(
            "ins4-counterparty-with-pnl-of-one-quantum",
            [
                _account("alice", "700", _long("1")),
                _account("bob", "1000", _short("0.000001", "59000.01")),
            ],
            [_mark("59000")],
            {_BTC: (_fine_market(), "60000", ())},
            funds={},
        ),
        lambda out: any(
            [(a["account"], a["size"], a["share"]) for a in r["allocations"]]
            == [("bob", "0.000001", "0.0003")]
            and r["unallocated"] == "299.9997"
            for r in _one(records(out, 0, "deleveraged"))
        ),
        ("boundary",),
    ),
    Pin(
        "liq1-inclusive-trigger-at-equity-equal-to-maintenance",
        "with the inclusive trigger, bob (no cash, one lot short in profit by one quantum) has "
        "equity of one quantum, equal to his maintenance margin: he is liquidatable and his "
        "liquidation starts (the strict trigger leaves him alone, as the INS-4 pin shows)",
        ("LIQ-1", "MARGIN-9"),
        _scenario_of(
            "liq1-inclusive-trigger-at-equity-equal-to-maintenance",
            [_account("bob", "0", _short("0.000001", "2.01"))],
            [_clock("1")],
            {_BTC: (_fine_market("inclusive"), "2", ())},
            funds={},
        ),
        lambda out: (
            [
                (r["account"], r["trigger"], r["equity"], r["maintenance"])
                for r in records(out, 0, "liquidation-started")
            ]
            == [("bob", "inclusive", "0.00000001", "0.00000001")]
        ),
        ("boundary",),
    ),
    Pin(
        "ins4-counterparty-with-equity-of-one-quantum",
        "with a strict trigger, bob (no cash, one lot short in profit by one quantum) has "
        "equity of one quantum, equal to his maintenance margin, so is not liquidatable: he "
        "is a counterparty (score PnL/E = 1) and pays the one-quantum share of his lot",
        ("INS-4", "INS-3", "MARGIN-9"),
        _scenario_of(
            "ins4-counterparty-with-equity-of-one-quantum",
            [
                _account("alice", "0.005", _long("1", "2.01")),
                _account("bob", "0", _short("0.000001", "2.01")),
            ],
            [_clock("1")],
            {_BTC: (_fine_market("strict"), "2", ())},
            funds={},
        ),
        lambda out: (
            [r["trigger"] for r in records(out, 0, "liquidation-started")] == ["strict"]
            and [
                [(a["account"], a["score"], a["size"], a["share"]) for a in r["allocations"]]
                for r in records(out, 0, "deleveraged")
            ]
            == [[("bob", "1", "0.000001", "0.00000001")]]
        ),
        ("boundary",),
    ),
]

_STEP_EDGE_PINS = [
    Pin(
        "liq4-health-target-of-one-lot",
        "alice, liquidating at 60000 with equity 254.9 just below her exit threshold 255, "
        "gets a book at 59990: closing one lot already restores the threshold, so the "
        "health target is 0.001 BTC, not the two lots that would restore it too",
        ("LIQ-4", "LIQ-2", "LIQ-10"),
        _btc_scenario(
            "liq4-health-target-of-one-lot",
            [_account("alice", "254.9", _long("1"))],
            [
                _mark("59990"),
                _mark("60000"),
                {"kind": "book", "market": _BTC, "bids": [["59990", "5"]], "asks": []},
            ],
            liquidation=_WAIT,
        ),
        lambda out: (
            [(r["target"], r["levels"]) for r in records(out, 2, "liquidation-step")]
            == [("0.001", [["59990", "0.001"]])]
            and [(r["equity"], r["threshold"]) for r in records(out, 2, "liquidation-ended")]
            == [("254.83001", "254.694")]
        ),
        ("boundary",),
    ),
    Pin(
        "liq6-acceptable-prefix-one-lot-into-a-level",
        "at equity -100 the walk takes 0.05 at 59121 and 0.1 at 59100, but only the "
        "prefix 0.05 at 59121 and one lot at 59100 keeps E/MM: the step keeps that one lot "
        "of the second level",
        ("LIQ-6", "CONV-14", "LIQ-10"),
        _btc_scenario(
            "liq6-acceptable-prefix-one-lot-into-a-level",
            [_account("alice", "900", _long("1"))],
            [_mark("59000")],
            bids=[("59121", "0.05"), ("59100", "0.1")],
        ),
        lambda out: (
            [(r["limit_price"], r["levels"]) for r in records(out, 0, "liquidation-step")]
            == [("59100", [["59121", "0.05"], ["59100", "0.001"]])]
        ),
        ("boundary",),
    ),
    Pin(
        "liq6-no-acceptable-prefix-fills-nothing",
        "at equity -100 the only bid, 0.1 at 59110, is within the quote 59100 of the whole "
        "position, but selling even one lot there lowers E/MM: nothing fills from the book "
        "and the fund takes the whole position over at 59100",
        ("LIQ-6", "LIQ-9", "LIQ-10"),
        _btc_scenario(
            "liq6-no-acceptable-prefix-fills-nothing",
            [_account("alice", "900", _long("1"))],
            [_mark("59000")],
            bids=[("59110", "0.1")],
        ),
        lambda out: (
            not records(out, 0, "liquidation-step")
            and [(r["size"], r["price"]) for r in records(out, 0, "takeover")] == [("1", "59100")]
        ),
        ("boundary",),
    ),
    Pin(
        "liq6-one-lot-walk-that-is-not-acceptable",
        "at equity -100 the book holds one lot, 0.001 at 59110: the walk's whole fill list is "
        "that one lot, and selling it lowers E/MM, so it is checked and dropped like any other "
        "and the fund takes the whole position over at 59100",
        ("LIQ-6", "LIQ-9", "LIQ-10"),
        _btc_scenario(
            "liq6-one-lot-walk-that-is-not-acceptable",
            [_account("alice", "900", _long("1"))],
            [_mark("59000")],
            bids=[("59110", "0.001")],
        ),
        lambda out: (
            not records(out, 0, "liquidation-step")
            and [(r["size"], r["price"]) for r in records(out, 0, "takeover")] == [("1", "59100")]
        ),
        ("boundary",),
    ),
    Pin(
        "liq7-book-level-of-one-lot-is-filled",
        "a starting book whose best bid is one lot (0.001 BTC at 59490) is valid, and "
        "alice's step takes that lot before the 59480 level",
        ("LIQ-7", "STATE-2", "LIQ-10"),
        _btc_scenario(
            "liq7-book-level-of-one-lot-is-filled",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "0.001"), ("59480", "5")],
        ),
        lambda out: any(
            r["levels"][:1] == [["59490", "0.001"]] and r["levels"][1][0] == "59480"
            for r in _one(records(out, 0, "liquidation-step"))
        ),
        ("boundary",),
    ),
]

PINS: list[Pin] = [
    Pin(
        "ins4-adl-never-bankrupts-a-counterparty",
        "bob (120 USDT, short 0.5 from 59610, healthy at 59600) is alice's only counterparty, "
        "but his share of her 300 deficit (150) would close his whole position with equity "
        "-25: ADL passes him over and the deficit stays unallocated, bad debt on alice",
        ("INS-4", "INS-6"),
        _btc_scenario(
            "ins4-adl-never-bankrupts-a-counterparty",
            [_account("alice", "100", _long("1")), _account("bob", "120", _short("0.5", "59610"))],
            [_mark("59600")],
            funds={},
        ),
        lambda out: (
            [(r["allocations"], r["unallocated"]) for r in records(out, 0, "deleveraged")]
            == [([], "300")]
            and [r["amount"] for r in records(out, 0, "bad-debt")] == ["300"]
            and [a["positions"] for a in out["final"]["accounts"] if a["account"] == "bob"]
            == [[{"market": "BTCUSDT", "side": "short", "size": "0.5"}]]
        ),
        ("boundary",),
    ),
    Pin(
        "ins4-adl-passes-over-flat-losing-and-liquidatable-shorts",
        "of four shorts facing alice's deficit of 300, ADL takes only erin (profitable and "
        "healthy): bob (PnL exactly 0), carol (losing) and dave (profitable but liquidatable) "
        "are passed over, and half the deficit stays unallocated",
        ("INS-4", "INS-3"),
        _btc_scenario(
            "ins4-adl-passes-over-flat-losing-and-liquidatable-shorts",
            [
                _account("alice", "100", _long("1")),
                _account("bob", "10000", _short("1", "59600")),
                _account("carol", "10000", _short("1", "59000")),
                _account("dave", "0", _short("10", "59620")),
                _account("erin", "10000", _short("0.5")),
            ],
            [_mark("59600")],
            funds={},
        ),
        lambda out: (
            [
                ([(a["account"], a["size"]) for a in r["allocations"]], r["unallocated"])
                for r in records(out, 0, "deleveraged")
            ]
            == [([("erin", "0.5")], "150")]
        ),
    ),
    Pin(
        "market12-defaults-without-a-liquidation-table",
        "a market file without [liquidation] and a scenario without overrides liquidate with "
        "MARKET-12's defaults: health policy, impact bound 5%, fee 0.1% into the USDT fund, "
        "exit threshold 2% above maintenance",
        ("MARKET-12", "LIQ-4", "LIQ-7", "LIQ-8", "LIQ-2", "INS-1"),
        _btc_scenario(
            "market12-defaults-without-a-liquidation-table",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "5")],
            funds={"USDT": "1000"},
        ),
        _defaults_hold,
    ),
    Pin(
        "ins2-fund-covering-the-deficit-leaves-adl-out",
        "a takeover with a deficit of 300 that the fund covers whole: the fund pays all of "
        "it (one fund-change, cause deficit, -300), and no deleveraged or bad-debt follows",
        ("INS-2", "INS-4", "LIQ-9"),
        _btc_scenario(
            "ins2-fund-covering-the-deficit-leaves-adl-out",
            [_account("alice", "100", _long("1")), _account("bob", "10000", _short("1"))],
            [_mark("59600")],
            funds={"USDT": "1000"},
        ),
        lambda out: (
            [(r["cause"], r["delta"]) for r in records(out, 0, "fund-change")]
            == [("deficit", "-300")]
            and not records(out, 0, "deleveraged")
            and not records(out, 0, "bad-debt")
            and _final(out, "bob")["positions"] != []
        ),
    ),
    Pin(
        "liq10-cooldown-blocks-the-next-chunk",
        "a chunk step starts the account's cooldown: a mark inside it gives a "
        "liquidation-waiting record with reason cooldown and no step",
        ("LIQ-10", "LIQ-4"),
        _btc_scenario(
            "liq10-cooldown-blocks-the-next-chunk",
            [_account("alice", "700", _long("1"))],
            [_mark("59500"), _clock("5"), _mark("59400")],
            bids=[("59490", "5"), ("59390", "5")],
            liquidation=_CHUNK,
        ),
        lambda out: (
            len(records(out, 0, "liquidation-step")) == 1
            and not records(out, 2, "liquidation-step")
            and _reasons(out, 2) == ["cooldown"]
        ),
        ("chunk",),
    ),
    Pin(
        "liq10-clock-alone-brings-the-next-chunk",
        "after alice's chunk step the mark and her account stay as they are: a clock inside "
        "her cooldown gives a liquidation-waiting record, and a clock after it her next step, "
        "though nothing but the time changed",
        ("LIQ-10", "LIQ-2", "LIQ-3"),
        _btc_scenario(
            "liq10-clock-alone-brings-the-next-chunk",
            [_account("alice", "700", _long("1"))],
            [_mark("59500"), _clock("5"), _clock("40")],
            bids=[("59490", "5"), ("59390", "5")],
            liquidation=_CHUNK,
        ),
        lambda out: (
            [len(records(out, i, "liquidation-step")) for i in range(3)] == [1, 0, 1]
            and _reasons(out, 1) == ["cooldown"]
        ),
        ("chunk",),
    ),
    Pin(
        "liq10-started-at-the-accounts-turn",
        "two accounts start a liquidation at one mark: the second account's "
        "liquidation-started record comes after the first account's step, not with the "
        "first's at queue build",
        ("LIQ-10", "LIQ-3", "OUT-2"),
        _btc_scenario(
            "liq10-started-at-the-accounts-turn",
            [_account("alice", "700", _long("1")), _account("bob", "720", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "5")],
        ),
        lambda out: (
            _sequence(out, 0, "liquidation-started", "liquidation-step")
            == [
                ("liquidation-started", "alice"),
                ("liquidation-step", "alice"),
                ("liquidation-started", "bob"),
                ("liquidation-step", "bob"),
            ]
        ),
    ),
    Pin(
        "liq3-queue-by-equity-over-maintenance",
        "the queue is E/MM ascending: bob (E/MM about -0.42) goes before alice (about "
        "-0.08) although alice has the lower equity, the larger shortfall E - MM and the "
        "first id",
        ("LIQ-3", "LIQ-10"),
        _btc_scenario(
            "liq3-queue-by-equity-over-maintenance",
            [_account("alice", "980", _long("1")), _account("bob", "90", _long("0.1"))],
            [_mark("59000")],
        ),
        lambda out: (
            [(r["account"], r["equity"]) for r in records(out, 0, "liquidation-started")]
            == [("bob", "-10"), ("alice", "-20")]
        ),
    ),
    Pin(
        "liq3-queue-ties-by-account-id",
        "two accounts with the same E/MM are queued by id: alice's step comes first and "
        "takes the best bid, although bob is listed first in the file",
        ("LIQ-3", "LIQ-10"),
        _btc_scenario(
            "liq3-queue-ties-by-account-id",
            [_account("bob", "700", _long("1")), _account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "0.1"), ("59480", "5")],
        ),
        lambda out: (
            [(r["account"], r["levels"][0][0]) for r in records(out, 0, "liquidation-step")]
            == [("alice", "59490"), ("bob", "59480")]
        ),
    ),
    Pin(
        "liq10-recovered-before-its-turn-ends-after",
        "bob, liquidating, is queued behind alice; ADL of alice's deficit closes half of "
        "bob's short and lifts him to the exit threshold, so at his turn he gets no step; "
        "after the queue his liquidation ends",
        ("LIQ-10", "LIQ-2", "LIQ-3", "INS-4"),
        _btc_scenario(
            "liq10-recovered-before-its-turn",
            [_account("alice", "0.02", _long("0.5")), _account("bob", "254", _short("1"))],
            [_mark("60004"), _mark("59999.9")],
            liquidation={"on_unfilled": "wait"},
            funds={},
        ),
        lambda out: (
            _kinds(_about(out, 0, "bob")) == ["liquidation-started", "liquidation-waiting"]
            and [
                (a["account"], a["size"])
                for r in records(out, 1, "deleveraged")
                for a in r["allocations"]
            ]
            == [("bob", "0.5")]
            and _sequence(out, 1, "takeover", "liquidation-ended")
            == [("takeover", "alice"), ("liquidation-ended", "alice"), ("liquidation-ended", "bob")]
            and not _final(out, "bob")["liquidating"]
            and _final(out, "bob")["positions"] != []
        ),
    ),
    Pin(
        "liq2-flag-ends-when-adl-closes-the-last-position",
        "bob, liquidating and waiting, loses his whole short to the ADL of alice's deficit: "
        "after the queue his liquidation ends (liquidation-ended, flag cleared), so a "
        "position he opens later is not liquidated above its maintenance",
        ("LIQ-2", "LIQ-10", "INS-4"),
        _btc_scenario(
            "liq2-flag-ends-when-adl-closes-the-last-position",
            [_account("alice", "0.04", _long("1")), _account("bob", "254", _short("1"))],
            [
                _mark("60004"),
                _mark("59999.9"),
                {"kind": "deposit", "account": "bob", "asset": "USDT", "amount": "1000"},
                {
                    "kind": "fill",
                    "account": "bob",
                    "market": _BTC,
                    "side": "sell",
                    "size": "1",
                    "price": "59999.9",
                },
                _mark("60996"),
            ],
            liquidation={"on_unfilled": "wait"},
            funds={},
        ),
        lambda out: (
            _kinds(_about(out, 0, "bob")) == ["liquidation-started", "liquidation-waiting"]
            and _kinds(_about(out, 1, "bob"))[-1:] == ["liquidation-ended"]
            and not _about(out, 4, "bob")
            and not _final(out, "bob")["liquidating"]
        ),
    ),
    Pin(
        "liq2-recovery-by-marks-ends-it",
        "a liquidating account lifted to its exit threshold by a mark alone gets no step, "
        "and its liquidation ends; when a later mark puts it back between MM and the "
        "threshold it gets nothing: a new liquidation needs equity below MM (LIQ-1)",
        ("LIQ-2", "LIQ-10"),
        _btc_scenario(
            "liq2-recovery-by-marks-ends-it",
            [_account("alice", "254", _long("1"))],
            [_mark("59995"), _mark("60010"), _mark("59998")],
            bids=[("59990", "5")],
            liquidation={"policy": "chunk", "chunk": "0.001", "cooldown": "0"},
        ),
        lambda out: (
            _kinds(_about(out, 0, "alice")) == ["liquidation-started", "liquidation-step"]
            and _kinds(_about(out, 1, "alice")) == ["liquidation-ended"]
            and not _about(out, 2, "alice")
            and not _final(out, "alice")["liquidating"]
        ),
        ("chunk",),
    ),
    Pin(
        "liq4-cooldown-belongs-to-the-account",
        "alice's chunk step starts her cooldown; at the next mark bob, in the same market, "
        "gets his first step while alice waits with reason cooldown",
        ("LIQ-4", "LIQ-10"),
        _btc_scenario(
            "liq4-cooldown-belongs-to-the-account",
            [_account("alice", "700", _long("1")), _account("bob", "760", _long("1"))],
            [_mark("59500"), _mark("59450")],
            bids=[("59490", "5"), ("59440", "5")],
            liquidation=_CHUNK,
        ),
        lambda out: (
            _kinds(_about(out, 0, "alice")) == ["liquidation-started", "liquidation-step"]
            and not _about(out, 0, "bob")
            and _kinds(_about(out, 1, "alice")) == ["liquidation-waiting"]
            and _reasons(out, 1) == ["cooldown"]
            and _kinds(_about(out, 1, "bob")) == ["liquidation-started", "liquidation-step"]
        ),
        ("chunk",),
    ),
    Pin(
        "liq4-cooldown-blocks-only-chunk-legs",
        "a chunk step in BTCUSDT halves that leg, so inside the cooldown the account's "
        "chosen leg is its CYBERUSDT position, of the health policy: it gets a step, "
        "not liquidation-waiting",
        ("LIQ-4", "LIQ-10"),
        _scenario_of(
            "liq4-cooldown-blocks-only-chunk-legs",
            [_account("alice", "750", _long("1"), _long("4000", "2", _CYBER))],
            [_mark("59500"), _clock("5")],
            {
                _BTC: (market(), "60000", (("59490", "5"),)),
                _CYBER: (_cyber_market(), "2", (("1.999", "10000"),)),
            },
            liquidation={_BTC: {**_CHUNK, "chunk": "0.5"}},
        ),
        lambda out: (
            [(r["market"], r["policy"]) for r in records(out, 0, "liquidation-step")]
            == [(_BTC, "chunk")]
            and [(r["market"], r["policy"]) for r in records(out, 1, "liquidation-step")]
            == [(_CYBER, "health")]
            and not records(out, 1, "liquidation-waiting")
        ),
        ("chunk", "cross"),
    ),
    Pin(
        "liq10-cooldown-wins-over-a-halt",
        "a mark inside the cooldown also trips a halt: the account waits with reason "
        "cooldown, not halted",
        ("LIQ-10", "LIQ-4", "BRK-6"),
        _btc_scenario(
            "liq10-cooldown-wins-over-a-halt",
            [_account("alice", "700", _long("1"))],
            [_mark("59500"), _mark("59300")],
            bids=[("59490", "5"), ("59290", "5")],
            liquidation=_CHUNK,
            breakers=_HALT,
        ),
        lambda out: (
            len(records(out, 0, "liquidation-step")) == 1
            and len(records(out, 1, "breaker-tripped")) == 1
            and _reasons(out, 1) == ["cooldown"]
        ),
        ("chunk", "breakers"),
    ),
    Pin(
        "liq10-halt-pause-waits-with-the-halt-reason",
        "with while_halted = pause, a halted market's account gets liquidation-waiting "
        "with reason halted and no fill, although the book has bids within the limits",
        ("LIQ-10", "BRK-6"),
        _btc_scenario(
            "liq10-halt-pause-waits-with-the-halt-reason",
            [_account("alice", "900", _long("1"))],
            [_mark("59300")],
            bids=[("59290", "5")],
            breakers={**_HALT, "while_halted": "pause"},
        ),
        lambda out: (
            len(records(out, 0, "breaker-tripped")) == 1
            and _kinds(_about(out, 0, "alice")) == ["liquidation-started", "liquidation-waiting"]
            and _reasons(out, 0) == ["halted"]
        ),
        ("breakers",),
    ),
    Pin(
        "liq10-halt-takeover-only-takes-over",
        "with while_halted = takeover-only, a halted market's account is taken over by the "
        "fund, although the book has bids and on_unfilled is wait",
        ("LIQ-10", "BRK-6", "LIQ-9"),
        _btc_scenario(
            "liq10-halt-takeover-only-takes-over",
            [_account("alice", "900", _long("1"))],
            [_mark("59300")],
            bids=[("59290", "5")],
            liquidation={"on_unfilled": "wait"},
            breakers={**_HALT, "while_halted": "takeover-only"},
        ),
        lambda out: (
            len(records(out, 0, "breaker-tripped")) == 1
            and _kinds(_about(out, 0, "alice"))
            == ["liquidation-started", "takeover", "liquidation-ended"]
        ),
        ("breakers",),
    ),
    Pin(
        "liq10-health-target-uses-the-band-edge",
        "with a 0.2% band tighter than the 5% impact bound, the health target assumes the "
        "lots the book cannot take at the band's edge (59381), not at the impact limit "
        "(56525): target 0.496, not the whole position; the limit says price-band",
        ("LIQ-10", "LIQ-4", "BRK-2"),
        _btc_scenario(
            "liq10-health-target-uses-the-band-edge",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "0.1")],
            breakers={"band": "0.002"},
        ),
        lambda out: (
            [
                (r["impact_limit"], r["limit_reason"], r["target"])
                for r in records(out, 0, "liquidation-step")
            ]
            == [("59381", "price-band", "0.496")]
        ),
        ("breakers",),
    ),
    Pin(
        "liq5-dust-after-the-cap-may-exceed-it",
        "a whole-position chunk is capped at 0.504 BTC (30000 at 59500), then the dust rule "
        "sees a 0.496 BTC rest worth less than 40000 and raises the target to the whole "
        "1 BTC, above the cap",
        ("LIQ-5", "LIQ-10"),
        _btc_scenario(
            "liq5-dust-after-the-cap-may-exceed-it",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "5")],
            liquidation={**_WHOLE, "max_step_notional": "30000", "dust_notional": "40000"},
        ),
        lambda out: [r["target"] for r in records(out, 0, "liquidation-step")] == ["1"],
        ("chunk",),
    ),
    Pin(
        "liq5-cap-lowers-the-target-to-the-cap",
        "a whole-position chunk is capped at 0.504 BTC, the most lots worth at most 30000 "
        "at the mark 59500; the rest is not dust",
        ("LIQ-5", "LIQ-10"),
        _btc_scenario(
            "liq5-cap-lowers-the-target-to-the-cap",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "5")],
            liquidation={**_WHOLE, "max_step_notional": "30000", "dust_notional": "20000"},
        ),
        lambda out: [r["target"] for r in records(out, 0, "liquidation-step")] == ["0.504"],
        ("chunk",),
    ),
    Pin(
        "liq7-limit-tie-keeps-the-impact-bound",
        "the bankruptcy quote of the whole position equals the impact limit (59262): the "
        "record names the impact bound",
        ("LIQ-7", "LIQ-10", "LIQ-6"),
        _btc_scenario(
            "liq7-limit-tie-keeps-the-impact-bound",
            [_account("alice", "738", _long("1"))],
            [_mark("59500")],
            bids=[("59262", "5")],
            liquidation={**_WHOLE, "impact_bound": "0.004"},
        ),
        lambda out: (
            [
                (r["bankruptcy_limit"], r["impact_limit"], r["limit_price"], r["limit_reason"])
                for r in records(out, 0, "liquidation-step")
            ]
            == [("59262", "59262", "59262", "impact-bound")]
        ),
        ("chunk", "boundary"),
    ),
    Pin(
        "liq5-rest-worth-exactly-the-dust",
        "a whole-position chunk is capped at 0.504 BTC; the 0.496 BTC rest is worth exactly "
        "29512 at 59500, the dust threshold, which is not below it: the target stays 0.504",
        ("LIQ-5", "LIQ-10"),
        _btc_scenario(
            "liq5-rest-worth-exactly-the-dust",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "5")],
            liquidation={**_WHOLE, "max_step_notional": "30000", "dust_notional": "29512"},
        ),
        lambda out: [r["target"] for r in records(out, 0, "liquidation-step")] == ["0.504"],
        ("chunk", "boundary"),
    ),
    Pin(
        "brk2-band-equal-to-impact",
        "a short liquidated at 60500 buys with a 0.2% impact bound and a 0.2% band: both "
        "allow 60621 at most, and a band that is not tighter leaves the limit to the impact "
        "bound (the quote, 60700, is above it)",
        ("BRK-2", "LIQ-7", "LIQ-10"),
        _btc_scenario(
            "brk2-band-equal-to-impact",
            [_account("alice", "700", _short("1"))],
            [
                {"kind": "book", "market": _BTC, "bids": [], "asks": [["60510", "5"]]},
                _mark("60500"),
            ],
            liquidation={"impact_bound": "0.002"},
            breakers={"band": "0.002"},
        ),
        lambda out: (
            [(r["impact_limit"], r["limit_reason"]) for r in records(out, 1, "liquidation-step")]
            == [("60621", "impact-bound")]
        ),
        ("breakers", "boundary"),
    ),
    Pin(
        "brk2-band-one-tick-inside",
        "a short from 62000 liquidated at 62500 buys: the 0.2% impact bound allows 62625, "
        "the 0.19984% band 62624.9, one tick less, so the band sets the limit",
        ("BRK-2", "LIQ-7", "LIQ-10"),
        _btc_scenario(
            "brk2-band-one-tick-inside",
            [_account("alice", "700", _short("1", "62000"))],
            [
                {"kind": "book", "market": _BTC, "bids": [], "asks": [["62510", "5"]]},
                _mark("62500"),
            ],
            liquidation={"impact_bound": "0.002"},
            breakers={"band": "0.0019984"},
        ),
        lambda out: (
            [(r["impact_limit"], r["limit_reason"]) for r in records(out, 1, "liquidation-step")]
            == [("62624.9", "price-band")]
        ),
        ("breakers", "boundary"),
    ),
    Pin(
        "liq6-acceptable-prefix-of-the-walked-fills",
        "at negative equity the walk takes 0.05 at 59130 and 0.1 at 59100, within the "
        "quote of the whole position, but closing 0.15 lowers E/MM: the step keeps the "
        "acceptable prefix, 0.05 at 59130 and 0.023 at 59100",
        ("LIQ-6", "CONV-14", "LIQ-10"),
        _btc_scenario(
            "liq6-acceptable-prefix-of-the-walked-fills",
            [_account("alice", "900", _long("1"))],
            [_mark("59000")],
            bids=[("59130", "0.05"), ("59100", "0.1")],
        ),
        lambda out: (
            [
                (r["target"], r["limit_price"], r["levels"])
                for r in records(out, 0, "liquidation-step")
            ]
            == [("1", "59100", [["59130", "0.05"], ["59100", "0.023"]])]
        ),
    ),
    Pin(
        "liq4-leg-with-the-largest-maintenance-margin",
        "the step works on the CYBERUSDT leg (maintenance 480 on a notional of 19200), not "
        "on the BTCUSDT leg with the larger notional (30000, maintenance 120) nor on the "
        "first symbol",
        ("LIQ-4", "LIQ-10"),
        _scenario_of(
            "liq4-leg-with-the-largest-maintenance-margin",
            [_account("alice", "1300", _long("0.5"), _long("8000", "2.5", _CYBER))],
            [_mark("2.4", _CYBER)],
            {
                _BTC: (market(), "60000", (("59990", "5"),)),
                _CYBER: (_cyber_market(), "2.5", (("2.399", "100000"),)),
            },
        ),
        lambda out: [r["market"] for r in records(out, 0, "liquidation-step")] == [_CYBER],
        ("cross",),
    ),
    Pin(
        "liq4-leg-tie-by-market-symbol",
        "two legs of equal maintenance margin (0.5 BTC in BTCUSDT and in its copy XBTUSDT, "
        "both marked 59000): the step works on BTCUSDT, the first symbol",
        ("LIQ-4", "LIQ-10"),
        _scenario_of(
            "liq4-leg-tie-by-market-symbol",
            [_account("alice", "1200", _long("0.5", symbol=_XBT), _long("0.5"))],
            [_mark("59000", _XBT), _mark("59000")],
            {
                _XBT: (_xbt_market(), "60000", (("58990", "5"),)),
                _BTC: (market(), "60000", (("58990", "5"),)),
            },
        ),
        lambda out: (
            [r["marks"] for r in records(out, 1, "liquidation-started")]
            == [{_BTC: "59000", _XBT: "59000"}]
            and [r["market"] for r in records(out, 1, "liquidation-step")] == [_BTC]
        ),
        ("cross", "boundary"),
    ),
    Pin(
        "liq8-unfilled-wait-waits-for-liquidity",
        "with on_unfilled = wait, an empty book and equity 200 >= 0, the step gives "
        "liquidation-waiting with reason no-liquidity and no takeover",
        ("LIQ-8", "LIQ-10"),
        _btc_scenario(
            "liq8-unfilled-wait-waits-for-liquidity",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            liquidation=_WAIT,
        ),
        lambda out: (
            _kinds(_about(out, 0, "alice")) == ["liquidation-started", "liquidation-waiting"]
            and _reasons(out, 0) == ["no-liquidity"]
        ),
    ),
    Pin(
        "liq9-negative-equity-takes-over-despite-wait",
        "with on_unfilled = wait and an empty book, an account at equity -300 is taken over "
        "by the fund instead of waiting",
        ("LIQ-9", "LIQ-8", "LIQ-10"),
        _btc_scenario(
            "liq9-negative-equity-takes-over-despite-wait",
            [_account("alice", "700", _long("1"))],
            [_mark("59000")],
            liquidation=_WAIT,
        ),
        lambda out: (
            [r["equity"] for r in records(out, 0, "liquidation-started")] == ["-300"]
            and _kinds(_about(out, 0, "alice"))[:2] == ["liquidation-started", "takeover"]
            and not records(out, 0, "liquidation-waiting")
        ),
    ),
    Pin(
        "liq8-fee-capped-at-the-surplus",
        "a 0.5% fee on 0.1 BTC sold at 59490 would be 29.745, but the fills earned only "
        "23.04040404 above the bankruptcy quote: the fee charged is the surplus",
        ("LIQ-8", "LIQ-10"),
        _btc_scenario(
            "liq8-fee-capped-at-the-surplus",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            bids=[("59490", "5")],
            liquidation={**_CHUNK, "fee": "0.005"},
        ),
        lambda out: any(
            r["fee"] == r["surplus"] and 0 < Decimal(r["fee"]) < _nominal_fee("0.005", r["levels"])
            for r in _one(records(out, 0, "liquidation-step"))
        ),
        ("chunk", "boundary"),
    ),
    Pin(
        "ins6-takeover-equity-after-is-before-bad-debt",
        "a takeover at the bankruptcy quote 59300 with the mark at 59000 and nothing to "
        "cover the 300 deficit: the takeover record's equity_after is 0, before the "
        "adjustment; the balance ends at -300, stated by bad-debt",
        ("INS-6", "LIQ-9", "OUT-4", "OUT-7"),
        _bankrupt_long("ins6-takeover-equity-after-is-before-bad-debt", funds={}),
        lambda out: (
            [r["equity_after"] for r in records(out, 0, "takeover")] == ["0"]
            and [r["amount"] for r in records(out, 0, "bad-debt")] == ["300"]
            and _final(out, "alice")["balance"] == "-300"
        ),
        ("negative",),
    ),
    Pin(
        "liq9-fund-delta-is-the-mark-valued-gain",
        "the fund takes 1 BTC over at 59300 with the mark at 59000: fund_delta is the "
        "fund's gain at the mark, -300, while the fund pays only the 100 it has",
        ("LIQ-9", "INS-2", "OUT-4", "OUT-5"),
        _bankrupt_long("liq9-fund-delta-is-the-mark-valued-gain", funds={"USDT": "100"}),
        lambda out: (
            [(r["price"], r["mark"], r["fund_delta"]) for r in records(out, 0, "takeover")]
            == [("59300", "59000", "-300")]
            and [(r["delta"], r["cause"]) for r in records(out, 0, "fund-change")]
            == [("-100", "deficit")]
        ),
    ),
    Pin(
        "liq9-fund-gain-is-at-the-mark-not-the-equity",
        "a takeover at 59300, the bankruptcy price 59299.95 rounded up to the tick, with "
        "the mark at 59500: the fund gains 200 at the mark, not the account's equity "
        "200.05, and the account keeps 0.05",
        ("LIQ-9", "INS-1", "OUT-4", "OUT-5"),
        _btc_scenario(
            "liq9-fund-gain-is-at-the-mark-not-the-equity",
            [_account("alice", "700.05", _long("1"))],
            [_mark("59500")],
        ),
        lambda out: (
            [
                (r["equity_before"], r["fund_delta"], r["equity_after"])
                for r in records(out, 0, "takeover")
            ]
            == [("200.05", "200", "0.05")]
            and [(r["delta"], r["cause"]) for r in records(out, 0, "fund-change")]
            == [("200", "takeover")]
        ),
        ("boundary",),
    ),
    Pin(
        "ins4-deleveraged-record-with-nobody-to-pay",
        "a 300 deficit, a fund at 0 and one short, in loss, so not a counterparty: the "
        "fund pays nothing (no fund-change) and a deleveraged record is still emitted, "
        "with no allocation and 300 unallocated",
        ("INS-4", "INS-2", "INS-6", "OUT-6"),
        _bankrupt_long(
            "ins4-deleveraged-record-with-nobody-to-pay",
            funds={"USDT": "0"},
            others=[_account("bob", "1000", _short("0.5", "58000"))],
        ),
        lambda out: (
            not records(out, 0, "fund-change")
            and [
                (r["method"], r["deficit"], r["allocations"], r["unallocated"])
                for r in records(out, 0, "deleveraged")
            ]
            == [("adl", "300", [], "300")]
            and _final(out, "bob")["positions"][0]["size"] == "0.5"
        ),
        ("negative",),
    ),
    Pin(
        "ins1-unlisted-fund-is-listed-once-credited",
        "two markets draw on funds that [funds] does not list: the final balances show "
        "BTCFUND, credited by a liquidation fee, and not CYBERFUND, never touched",
        ("INS-1", "OUT-9", "LIQ-8"),
        _scenario_of(
            "ins1-unlisted-fund-is-listed-once-credited",
            [_account("alice", "700", _long("1"))],
            [_mark("59500")],
            {
                _BTC: (market(), "60000", (("59490", "5"),)),
                _CYBER: (_cyber_market(), "2", ()),
            },
            liquidation={
                _BTC: {"insurance_fund": "BTCFUND"},
                _CYBER: {"insurance_fund": "CYBERFUND"},
            },
            funds={},
        ),
        lambda out: (
            [(r["fund"], r["cause"]) for _, r in records_of(out, "fund-change")]
            == [("BTCFUND", "liquidation-fee")]
            and list(out["final"]["funds"]) == ["BTCFUND"]
        ),
    ),
    Pin(
        "ins4-adl-ranks-by-pnl-over-equity",
        "ADL of a 299.0007 deficit over three shorts, ranked by PnL / equity (carol 1/3, "
        "bob 3/13, dave 9/59) and not by id; dave closes only the 0.199 left; the shares "
        "are the INS-3 slices and sum to the deficit",
        ("INS-4", "INS-3", "OUT-6"),
        _bankrupt_long(
            "ins4-adl-ranks-by-pnl-over-equity",
            funds={},
            size="0.999",
            others=[
                _account("bob", "1000", _short("0.3")),
                _account("carol", "500", _short("0.5", "59500")),
                _account("dave", "5000", _short("0.6", "60500")),
            ],
        ),
        lambda out: any(
            [(a["account"], a["score"], a["size"]) for a in r["allocations"]]
            == [("carol", "1/3", "0.5"), ("bob", "3/13", "0.3"), ("dave", "9/59", "0.199")]
            and r["unallocated"] == "0"
            and _shares(r) == _ins3_shares(r["deficit"], ["0.5", "0.3", "0.199"])
            for r in _one(records(out, 0, "deleveraged"))
        ),
    ),
    Pin(
        "ins5-socialize-pro-rata-to-every-holder",
        "socialized loss of a 299.0007 deficit: bob's short and carol's long pay INS-3 "
        "shares pro rata to their sizes, in id order, summing to the deficit; dave, with "
        "no position, pays nothing",
        ("INS-5", "INS-3", "OUT-6"),
        _bankrupt_long(
            "ins5-socialize-pro-rata-to-every-holder",
            funds={},
            size="0.999",
            others=[
                _account("bob", "1000", _short("0.3")),
                _account("carol", "1000", _long("0.4", "58000")),
                _account("dave", "1000"),
            ],
            liquidation={"deleveraging": "socialize"},
        ),
        lambda out: any(
            [(a["account"], a["score"]) for a in r["allocations"]]
            == [("bob", "pro-rata"), ("carol", "pro-rata")]
            and r["unallocated"] == "0"
            and _shares(r) == _ins3_shares(r["deficit"], ["0.3", "0.4"])
            and _final(out, "dave")["balance"] == "1000"
            for r in _one(records(out, 0, "deleveraged"))
        ),
    ),
    Pin(
        "ins2-step-cap-limits-the-fund",
        "a fund of 1000 with insurance_step_cap 50 pays 50 of a 300 deficit; the other "
        "250 goes to ADL",
        ("INS-2", "LIQ-9", "OUT-5"),
        _bankrupt_long(
            "ins2-step-cap-limits-the-fund",
            funds={"USDT": "1000"},
            liquidation={"insurance_step_cap": "50"},
        ),
        lambda out: (
            [(r["delta"], r["balance"], r["cause"]) for r in records(out, 0, "fund-change")]
            == [("-50", "950", "deficit")]
            and [r["deficit"] for r in records(out, 0, "deleveraged")] == ["250"]
        ),
    ),
    *_ENGINE_MUTANT_PINS,
    *_STEP_EDGE_PINS,
    *_OPTIMAL_PINS,
    *_CHUNK_ROUNDING_PINS,
    *_TIER_TARGET_PINS,
    *_FEE_LIMIT_PINS,
    *_BILATERAL_PINS,
    *_SPLIT_FEE_PINS,
    *_FILLABLE_PINS,
    *_COVER_PINS,
    *_DRAWDOWN_PINS,
    _TIER_FLOOR_PIN,
]
