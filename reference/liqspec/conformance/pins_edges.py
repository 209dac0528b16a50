"""Pins of the rejections and edge rules: chapters 6 (STATE-8), 10, 11 and 12."""

from __future__ import annotations

from liqspec.conformance.pins import Pin, market, position, scenario, step

__all__ = ["PINS"]

PINS: list[Pin] = [
    Pin(
        "state8-gated-and-over-margin-is-blocked",
        "a withdrawal that is both gated and over the margin is rejected withdrawals-blocked: "
        "the gate is checked before the margin",
        ("STATE-8", "BRK-5", "STATE-5"),
        scenario(
            "state8-gated-and-over-margin-is-blocked",
            [market(breakers={"withdrawal_block": "100"})],
            [
                {
                    "id": "bob",
                    "asset": "USDT",
                    "balance": "100",
                    "positions": [position("BTCUSDT", "long", "1", "60000")],
                },
                {"id": "carol", "asset": "USDT", "balance": "100000"},
            ],
            [
                {"kind": "mark", "market": "BTCUSDT", "price": "59800"},
                {
                    "kind": "withdraw",
                    "account": "carol",
                    "asset": "USDT",
                    "amount": "200000",
                    "expect": "withdrawals-blocked",
                },
            ],
            marks={"BTCUSDT": "60000"},
            books={"BTCUSDT": {"bids": [], "asks": []}},
            liquidation={"BTCUSDT": {"on_unfilled": "takeover"}},
        ),
        lambda out: step(out, 1)["rejected"]["reason"] == "withdrawals-blocked",
        ("breakers",),
    ),
]
