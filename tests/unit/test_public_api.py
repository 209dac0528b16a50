"""The public Python API: names exported from ``liqspec``, paths as str or Path, bundled data."""

from __future__ import annotations

from pathlib import Path

import liqspec
from liqspec.base.files import get_bundled
from tests.data import ROOT


def test_every_exported_name_exists() -> None:
    missing = [name for name in liqspec.__all__ if not hasattr(liqspec, name)]
    assert missing == []


def test_loaders_take_str_and_path_alike() -> None:
    market_path = ROOT / "spec/markets/binance-btcusdt-2024-10-24.toml"
    by_path, by_str = liqspec.load_market(market_path), liqspec.load_market(str(market_path))
    assert by_path == by_str
    markets = {by_path.symbol: by_path}
    account = ROOT / "spec/accounts/demo-isolated.json"
    assert liqspec.load_account(account, markets) == liqspec.load_account(str(account), markets)
    scenario = ROOT / "spec/scenarios/adl-after-fund-exhausted.toml"
    assert liqspec.load_scenario(scenario) == liqspec.load_scenario(str(scenario))


def test_the_bundled_specification_is_the_spec_folder() -> None:
    bundled = get_bundled()
    assert isinstance(bundled, Path)
    names = sorted(p.name for p in (ROOT / "spec" / "vectors").rglob("*.json"))
    assert sorted(p.name for p in bundled.joinpath("vectors").rglob("*.json")) == names
