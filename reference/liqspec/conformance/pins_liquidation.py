"""Pins of chapters 7 and 8: the liquidation procedure (LIQ-10) and its accounting (§8.1)."""

from __future__ import annotations

from liqspec.conformance.pins import Pin, market, position, records, scenario

__all__ = ["PINS"]

_LONG_1_BTC = [
    {
        "id": "alice",
        "asset": "USDT",
        "balance": "700",
        "positions": [position("BTCUSDT", "long", "1", "60000")],
    }
]
"""One account, 1 BTC long from 60000 with 700 USDT: liquidatable below about 59546."""

PINS: list[Pin] = [
    Pin(
        "liq10-cooldown-blocks-the-next-chunk",
        "a chunk step starts the account's cooldown: a mark inside it gives a "
        "liquidation-waiting record with reason cooldown and no step",
        ("LIQ-10", "LIQ-4"),
        scenario(
            "liq10-cooldown-blocks-the-next-chunk",
            [market()],
            _LONG_1_BTC,
            [
                {"kind": "mark", "market": "BTCUSDT", "price": "59500"},
                {"kind": "clock", "time": "5"},
                {"kind": "mark", "market": "BTCUSDT", "price": "59400"},
            ],
            marks={"BTCUSDT": "60000"},
            books={"BTCUSDT": {"bids": [["59490", "5"], ["59390", "5"]], "asks": []}},
            liquidation={"BTCUSDT": {"policy": "chunk", "chunk": "0.1", "cooldown": "30"}},
            funds={"USDT": "1000"},
        ),
        lambda out: (
            len(records(out, 0, "liquidation-step")) == 1
            and not records(out, 2, "liquidation-step")
            and [r["reason"] for r in records(out, 2, "liquidation-waiting")] == ["cooldown"]
        ),
        ("chunk",),
    ),
]
