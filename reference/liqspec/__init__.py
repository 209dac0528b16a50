"""liqspec: the reference liquidation engine (spec/).

The package's folders are its layers; each imports only the layers below it, and
``import-linter`` (contracts in pyproject.toml) fails the build on an upward import:

    cli/           the command line and its printed reports
    conformance/   vectors, the reference adapter, the runner, the fuzzer   (chapter 13)
    engine/        state and events, the rules, the transition, scenarios   (chapters 6-12)
    model/         markets, accounts, margin, prices: queries on one account (chapters 2-5)
    base/          numbers and rounding, rejection reasons, files           (chapter 1)

The engine never imports z3; the proofs package (liqproofs) imports the engine and model,
never the tools. docs/architecture.md describes the layers and the path of one event.
"""

from liqspec.base.conventions import Ratio, decimal_text, div_ceil, div_floor, ite, smax, smin
from liqspec.base.errors import EventRejectedError, InputError, LiqspecError, Reason
from liqspec.engine.scenarios import Scenario, Step, load_scenario, replay
from liqspec.engine.state import (
    AccountState,
    Book,
    BookUpdate,
    Clock,
    Deposit,
    Event,
    Fill,
    IndexUpdate,
    Level,
    MarketState,
    MarkUpdate,
    ParameterChange,
    ReferenceUpdate,
    State,
    TradeUpdate,
    Withdrawal,
    get_unit,
)
from liqspec.engine.transition import process_event
from liqspec.model.accounts import (
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
from liqspec.model.margin import (
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
from liqspec.model.market_files import load_market
from liqspec.model.market_rules import make_market, validate_market
from liqspec.model.markets import (
    ContractKind,
    Market,
    Source,
    Tier,
    TierMode,
    Trigger,
    Valuation,
    get_value,
)
from liqspec.model.prices import (
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
    "AccountState",
    "Book",
    "BookUpdate",
    "Clock",
    "ContractKind",
    "Deposit",
    "Event",
    "EventRejectedError",
    "Fill",
    "IndexUpdate",
    "InputError",
    "Leg",
    "Level",
    "LiqspecError",
    "MarginMode",
    "MarginUnit",
    "MarkUpdate",
    "Market",
    "MarketState",
    "ParameterChange",
    "Position",
    "PriceResult",
    "PriceStatus",
    "Ratio",
    "Reason",
    "ReferenceUpdate",
    "Scenario",
    "Side",
    "Source",
    "State",
    "Step",
    "Tier",
    "TierMode",
    "TradeUpdate",
    "Trigger",
    "Valuation",
    "Withdrawal",
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
    "get_unit",
    "get_unrealized_pnl",
    "get_value",
    "is_bankrupt_at",
    "is_below_maintenance",
    "is_liquidatable",
    "is_liquidatable_at",
    "ite",
    "load_account",
    "load_market",
    "load_scenario",
    "make_market",
    "open_position",
    "process_event",
    "replay",
    "smax",
    "smin",
    "validate_market",
]
