"""liqspec: the reference liquidation engine (spec/).

Layers, each importing only those above it:

    errors, conventions   numbers, rounding, rejection reasons   (spec/01-conventions.md)
    files                 reading files at the boundary
    markets               market parameters                       (spec/02-markets.md)
    accounts              positions, accounts, margin units       (spec/03-accounts.md)
    margin                margin and the trigger                  (spec/04-margin.md)
    prices                liquidation and bankruptcy prices       (spec/05-prices.md)
    report, cli           tools built on the engine (leaves; never imported by the engine)

The engine never imports z3; the proofs package (liqproofs) imports the engine.
"""

from liqspec.accounts import (
    Account,
    AccountFile,
    Leg,
    MarginMode,
    MarginUnit,
    Position,
    Side,
    get_entry_price,
    get_margin_units,
    load_account,
    open_position,
)
from liqspec.conventions import Ratio, decimal_text, div_ceil, div_floor, ite, smax, smin
from liqspec.errors import InputError, LiqspecError, Reason
from liqspec.margin import (
    get_equity,
    get_initial_margin,
    get_initial_requirement,
    get_maintenance_for_notional,
    get_maintenance_margin,
    get_maintenance_requirement,
    get_margin_ratio,
    get_notional,
    get_tier_index,
    get_unrealized_pnl,
    is_below_maintenance,
    is_liquidatable,
)
from liqspec.markets import (
    ContractKind,
    Market,
    Source,
    Tier,
    TierMode,
    Trigger,
    Valuation,
    get_value,
    load_market,
    make_market,
    validate_market,
)
from liqspec.prices import (
    PriceResult,
    PriceStatus,
    get_bankruptcy_price,
    get_exact_bankruptcy_price,
    get_liquidation_price,
    is_bankrupt_at,
    is_liquidatable_at,
)

__version__ = "0.1.0"

__all__ = [
    "Account",
    "AccountFile",
    "ContractKind",
    "InputError",
    "Leg",
    "LiqspecError",
    "MarginMode",
    "MarginUnit",
    "Market",
    "Position",
    "PriceResult",
    "PriceStatus",
    "Ratio",
    "Reason",
    "Side",
    "Source",
    "Tier",
    "TierMode",
    "Trigger",
    "Valuation",
    "decimal_text",
    "div_ceil",
    "div_floor",
    "get_bankruptcy_price",
    "get_entry_price",
    "get_equity",
    "get_exact_bankruptcy_price",
    "get_initial_margin",
    "get_initial_requirement",
    "get_liquidation_price",
    "get_maintenance_for_notional",
    "get_maintenance_margin",
    "get_maintenance_requirement",
    "get_margin_ratio",
    "get_margin_units",
    "get_notional",
    "get_tier_index",
    "get_unrealized_pnl",
    "get_value",
    "is_bankrupt_at",
    "is_below_maintenance",
    "is_liquidatable",
    "is_liquidatable_at",
    "ite",
    "load_account",
    "load_market",
    "make_market",
    "open_position",
    "smax",
    "smin",
    "validate_market",
]
