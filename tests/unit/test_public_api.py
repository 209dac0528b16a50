"""The public Python API: names exported from ``liqspec``, paths as str or Path, bundled data."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

import liqspec
from liqspec.base.conventions import Ratio
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import get_bundled
from liqspec.model.market_rules import make_market
from liqspec.model.markets import Market
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


def _arguments_of(market: Market, *left_out: str) -> dict[str, Any]:
    """Return make_market's arguments that rebuild ``market``, but for ``left_out``."""
    names = set(inspect.signature(make_market).parameters) - {*left_out, "check"}
    return {name: getattr(market, name) for name in names}


def test_make_market_defaults_are_the_file_defaults() -> None:
    """A linear market file may omit contract_value and taker_fee (MARKET-4); so may a caller."""
    loaded = liqspec.load_market(ROOT / "spec/markets/binance-btcusdt-2024-10-24.toml")
    built = make_market(**_arguments_of(loaded, "contract_value", "taker_fee"))
    assert (built.contract_value, built.taker_fee) == (loaded.contract_value, loaded.taker_fee)
    assert built.value_factor == loaded.value_factor


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [("tiers", (), Reason.NO_TIERS), ("lot_size", Ratio(0, 1), Reason.NOT_POSITIVE)],
)
def test_make_market_checks_the_market_rules(field: str, value: object, reason: Reason) -> None:
    """A caller's market meets the rules a file's does: MARKET-5's tiers, MARKET-2's units."""
    loaded = liqspec.load_market(ROOT / "spec/markets/binance-btcusdt-2024-10-24.toml")
    with pytest.raises(InputError) as caught:
        make_market(**{**_arguments_of(loaded, field), field: value})
    assert caught.value.reason is reason


def test_load_market_checks_the_market_rules_unless_told(tmp_path: Path) -> None:
    """``check`` defaults to on: a file breaking MARKET-7 is refused; prove and gate turn it off."""
    source = (ROOT / "spec/markets/binance-btcusdt-2024-10-24.toml").read_text()
    path = tmp_path / "market.toml"
    path.write_text(source.replace('mmr = "0.004"', 'mmr = "1"'))
    with pytest.raises(InputError) as caught:
        liqspec.load_market(path)
    assert caught.value.reason is Reason.MMR_RANGE
    assert liqspec.load_market(path, check=False).tiers[0].mmr == Ratio(1, 1)
