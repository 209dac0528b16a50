"""Paths to the bundled data the tests read."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKETS = ROOT / "spec" / "markets"
ACCOUNTS = ROOT / "spec" / "accounts"
