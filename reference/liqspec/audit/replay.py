"""The replay: the venue's actions applied to the reference's state, each checked (AUDIT-2..5).

Each line's event goes through the reference's own transition and market rules (STATE-8 steps
1 and 2). Then, instead of the reference's liquidation procedure, the venue's records are
applied in order, each checked first against the rule it must follow; then the withdrawal gate
runs. A finding never stops the replay. A unit whose log broke continuity (AUDIT-3) is out of
sync: its later findings would only repeat the break, so they are counted, not reported; so
are the fund and value findings of the line where it broke.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

import attrs
from attrs import frozen

from liqspec.audit.catalogue import Severity, Violation
from liqspec.audit.integrity import Proof
from liqspec.audit.log import (
    Action,
    Deleverage,
    Ended,
    FundMove,
    Started,
    Step,
    TakenOver,
    Unpaid,
    Waiting,
    parse_actions,
)
from liqspec.base.conventions import Ratio, div_ceil
from liqspec.base.errors import EventRejectedError, InputError, Reason
from liqspec.engine.breakers import get_band
from liqspec.engine.execution import (
    get_bankruptcy_quote,
    get_closed_account,
    get_executed_value,
    get_exit_threshold,
    is_acceptable,
)
from liqspec.engine.insurance import get_adl_ranking, get_offsetting_accounts
from liqspec.engine.outputs import Units
from liqspec.engine.queue import get_changed_ids, get_indexed_queue
from liqspec.engine.scenarios import Scenario
from liqspec.engine.state import (
    AccountState,
    Deposit,
    Event,
    Fill,
    State,
    Withdrawal,
    close_part,
    get_isolated_id,
    get_unit,
    with_account,
    with_market,
    with_position,
)
from liqspec.engine.transition import apply_event, process_markets, process_withdrawal_gate
from liqspec.model.accounts import MarginMode, MarginUnit, Position
from liqspec.model.margin import get_equity, get_maintenance_requirement, is_liquidatable
from liqspec.model.markets import ContractKind, Market, format_price, format_size, get_value

__all__ = ["Auditor", "Finding", "external_delta", "signed_value"]


@frozen
class Finding:
    """One violation: where, whose, and the numbers that show it, as decimal text (AUDIT-5)."""

    violation: Violation
    line: int
    account: str | None
    detail: str
    numbers: tuple[tuple[str, str], ...]
    digest: str = ""
    """The hash chain after the finding's line (AUDIT-6)."""
    proof: Proof | None = None
    """The line's inclusion proof in its batch, once the batch is closed (AUDIT-6)."""


# --- value from outside the state (spec/08-insurance.md) -----------------------------------------


def signed_value(market: Market, signed_size: int, price: int) -> int:
    """Return V(|size|, price) with the sign of ``signed_size`` (MARGIN-1)."""
    value = get_value(market, abs(signed_size), price)
    return value if signed_size >= 0 else -value


def external_delta(market: Market, before: int, after: int, price: int, mark: int) -> int:
    """Return the value a trade from ``before`` to ``after`` lots at ``price`` brings in.

    It is measured at ``mark``: what the other side, outside the state, gave up (AUDIT-4).
    """
    direction = 1 if market.contract is ContractKind.LINEAR else -1
    at_mark = signed_value(market, after, mark) - signed_value(market, before, mark)
    at_price = signed_value(market, after, price) - signed_value(market, before, price)
    return direction * (at_mark - at_price)


# --- the auditor --------------------------------------------------------------------------------


@attrs.define
class _Deficit:
    """A takeover's deficit (LIQ-9): whose, on which side, how much, and how much is covered."""

    fund: str
    account: str
    side: int
    amount: int
    cap: int
    """The market's ``insurance_step_cap``: the most the fund pays on this deficit, 0 for no cap."""
    covered: int = 0
    paid: int = 0
    """What the fund has paid on this deficit so far (part of ``covered``)."""

    def get_fund_due(self, balance: int) -> int:
        """Return what the fund still owes on this deficit at ``balance`` (INS-2).

        >>> _Deficit("F", "u", 1, amount=1000, cap=100, covered=100, paid=100).get_fund_due(400)
        0
        >>> _Deficit("F", "u", 1, amount=1000, cap=0).get_fund_due(400)
        400
        """
        left = self.amount - self.covered
        if self.cap:
            left = min(left, self.cap - self.paid)
        return max(0, min(left, balance))


@attrs.define
class _Line:
    """What the actions of the line being replayed have done so far."""

    number: int
    handled: set[str] = attrs.field(factory=set)
    fee: tuple[str, int] | None = None
    """The fund and the fee of the last liquidation step, until its fund-change."""
    gain: tuple[str, int] | None = None
    """The fund and the gain of the last takeover, until its fund-change."""
    deficit: _Deficit | None = None
    """The last takeover's deficit, while the fund, ADL or socialization cover it."""
    external: defaultdict[str, int] = attrs.field(factory=lambda: defaultdict(int))
    """Value per asset that fills with the book brought in (AUDIT-4)."""
    accounts: set[str] = attrs.field(factory=set)
    """Units the line's actions named."""
    broken: bool = False
    """A continuity finding on this line: its fund and value checks would only echo it."""


class Auditor:
    """Replays an audit log line by line and collects its findings (AUDIT-2)."""

    def __init__(self, scenario: Scenario) -> None:
        self.state = scenario.state
        self.units = Units(scenario.state)
        self.markets = dict(self.units.markets)
        self.findings: list[Finding] = []
        self.suppressed = 0
        self.broken: set[str] = set()
        self.lines = 0
        self.liquidated: Counter[str] = Counter()
        """Value closed by liquidation steps and takeovers, per settlement asset."""
        self.fund_low = dict(self.state.funds)
        self.overshoot: Counter[str] = Counter()
        self.digest = ""
        _, self.state = get_indexed_queue(self.state)

    # --- a line ---

    def process_line(self, number: int, event: Event, records: Iterable[dict[str, object]],
                     digest: str = "") -> None:  # fmt: skip
        """Replay one line: the event, the venue's actions, the gate; then the line's checks."""
        self.lines += 1
        self.digest = digest
        before = self.state
        line = _Line(number)
        try:
            state, _ = apply_event(before, event)
        except EventRejectedError as rejection:
            account = getattr(event, "account", None)
            self._find(Violation.CONTINUITY, line, account,
                       f"the reference rejects the event: {rejection.reason.identifier} "
                       f"({rejection.detail})")  # fmt: skip
            state = before
        else:
            state, _ = process_markets(before, state, event)
        self.state = state
        changed = set(get_changed_ids(self.state.changed))
        due = self._get_due()
        rows = tuple(records)
        actions = parse_actions(rows, self.markets, self._quantum_of)
        for action in actions:
            self._apply(action, line)
        self.state, _ = process_withdrawal_gate(before, self.state)
        changed |= set(get_changed_ids(self.state.changed))
        self._check_conserved(before, event, line, changed)
        self._check_missed(line, due)
        for fund, balance in self.state.funds.items():
            self.fund_low[fund] = min(self.fund_low.get(fund, balance), balance)

    def _quantum_of(self, name: str) -> Ratio:
        if name in self.units.quantum:
            return self.units.quantum[name]
        account = self.state.accounts.get(name)
        if account is None or account.asset not in self.units.quantum:
            raise InputError(Reason.UNKNOWN_ACCOUNT, "account", name, "not in the replayed state")
        return self.units.quantum[account.asset]

    def _apply(self, action: Action, line: _Line) -> None:
        line.accounts.add(getattr(action, "account", ""))
        if isinstance(action, Started):
            self._started(action, line)
        elif isinstance(action, Step):
            self._step(action, line)
        elif isinstance(action, Waiting):
            line.handled.add(action.account)
        elif isinstance(action, Ended):
            self._ended(action, line)
        elif isinstance(action, TakenOver):
            self._takeover(action, line)
        elif isinstance(action, FundMove):
            self._fund(action, line)
        elif isinstance(action, Deleverage):
            self._deleverage(action, line)
        else:
            self._unpaid(action, line)

    # --- the findings ---

    def _find(self, violation: Violation, line: _Line, account: str | None, detail: str,
              **numbers: str) -> bool:  # fmt: skip
        """Report a finding, or count it as suppressed (AUDIT-3); return whether reported."""
        if violation is not Violation.CONTINUITY and (
            account in self.broken or (account is None and line.broken)
        ):
            self.suppressed += 1
            return False
        if violation is Violation.CONTINUITY:
            line.broken = True
            if account is not None:
                self.broken.add(account)
        shown = tuple(sorted(numbers.items()))
        self.findings.append(Finding(violation, line.number, account, detail, shown, self.digest))
        return True

    def _account(self, name: str, line: _Line) -> AccountState | None:
        account = self.state.accounts.get(name)
        if account is None:
            self._find(Violation.CONTINUITY, line, name, "the log names a unit the replay lacks")
        return account

    def _amount(self, quantums: int, asset: str) -> str:
        return self.units.amount(quantums, asset)

    def _unit_numbers(self, account: AccountState) -> dict[str, str]:
        unit = get_unit(self.state, account)
        numbers = {
            "equity": self._amount(get_equity(unit), account.asset),
            "maintenance": self._amount(get_maintenance_requirement(unit), account.asset),
        }
        for leg in unit.legs:
            numbers[f"mark_{leg.market.symbol}"] = format_price(leg.market, leg.mark)
        return numbers

    # --- liquidation actions (AUDIT-5) ---

    def _started(self, action: Started, line: _Line) -> None:
        account = self._account(action.account, line)
        if account is None:
            return
        line.handled.add(account.id)
        if not is_liquidatable(get_unit(self.state, account)):
            self._find(Violation.PREMATURE, line, account.id,
                       "liquidation started while equity was above maintenance at the mark",
                       **self._unit_numbers(account))  # fmt: skip
        self.state = with_account(self.state, attrs.evolve(account, liquidating=True))

    def _position_index(self, account: AccountState, symbol: str, line: _Line) -> int | None:
        for index, position in enumerate(account.positions):
            if position.market == symbol:
                return index
        self._find(Violation.CONTINUITY, line, account.id, f"no position in {symbol} to close")
        return None

    def _held(self, action: Step | TakenOver, line: _Line) -> tuple[AccountState, int] | None:
        """Return the unit a closing action names and the index of its position, or None.

        The unit counts as handled on the line (AUDIT-2); a missing unit or position is a
        continuity finding (AUDIT-3).
        """
        account = self._account(action.account, line)
        if account is None:
            return None
        line.handled.add(account.id)
        index = self._position_index(account, action.market, line)
        return None if index is None else (account, index)

    def _step(self, action: Step, line: _Line) -> None:
        held_at = self._held(action, line)
        if held_at is None:
            return
        account, index = held_at
        position = account.positions[index]
        entry = self.state.markets[action.market]
        market = entry.market
        held = int(position.side) * position.size
        executed = sum(size for _, size in action.levels)
        if action.position_before is not None and action.position_before != held:
            self._find(Violation.CONTINUITY, line, account.id,
                       "the step's starting position is not the replayed one",
                       expected=format_size(market, held),
                       observed=format_size(market, action.position_before))  # fmt: skip
            return
        if action.selling != (position.side > 0) or executed > position.size:
            self._find(Violation.CONTINUITY, line, account.id,
                       "the step trades against the position or closes more than it holds",
                       held=format_size(market, held),
                       executed=format_size(market, executed))  # fmt: skip
            return
        if not account.liquidating and not is_liquidatable(get_unit(self.state, account)):
            self._find(Violation.PREMATURE, line, account.id,
                       "a liquidation step for a unit that was not in liquidation",
                       **self._unit_numbers(account))  # fmt: skip
        self._check_band(action, line)
        before = get_unit(self.state, account)
        closed = get_closed_account(self.state, account, index, action.levels)
        after = get_unit(self.state, closed)
        if not is_acceptable(before, after):
            quote = get_bankruptcy_quote(self.state, account, index, executed)
            worst = min(p for p, _ in action.levels) if action.selling else max(
                p for p, _ in action.levels)  # fmt: skip
            self._find(Violation.BEYOND_QUOTE, line, account.id,
                       "the fills lower equity/maintenance: worse than the bankruptcy quote",
                       worst_fill=format_price(market, worst),
                       bankruptcy_quote="none" if quote is None else format_price(market, quote),
                       **self._unit_numbers(account))  # fmt: skip
        self._check_fee(action, line, account, (before, after), position)
        self.state = with_account(self.state, attrs.evolve(
            closed, balance=closed.balance - action.fee, liquidating=True))  # fmt: skip
        self._consume(action)
        mark = self.state.markets[action.market].mark
        moved = held
        for price, size in action.levels:
            after_lots = moved - size if action.selling else moved + size
            line.external[market.settle_asset] += external_delta(market, moved, after_lots,
                                                                 price, mark)  # fmt: skip
            moved = after_lots
        self.liquidated[market.settle_asset] += sum(
            get_value(market, size, price) for price, size in action.levels
        )
        line.fee = (market.fund, action.fee) if action.fee else None

    def _check_band(self, action: Step, line: _Line) -> None:
        band = get_band(self.state.markets[action.market])
        if band is None:
            return
        market = self.markets[action.market]
        outside = [p for p, _ in action.levels if not band[0] <= p <= band[1]]
        if outside:
            self._find(Violation.OUTSIDE_BAND, line, action.account,
                       "a liquidation fill outside the price band",
                       fill=format_price(market, outside[0]),
                       band_low=format_price(market, band[0]),
                       band_high=format_price(market, band[1]))  # fmt: skip

    def _check_fee(self, action: Step, line: _Line, account: AccountState,
                   units: tuple[MarginUnit, MarginUnit], position: Position) -> None:  # fmt: skip
        """LIQ-8: the fee is at most the nominal fee on the value closed and the surplus."""
        before, after = units
        equity_before, maintenance_before = get_equity(before), get_maintenance_requirement(before)
        equity_after, maintenance_after = get_equity(after), get_maintenance_requirement(after)
        surplus = equity_after
        if maintenance_before > 0:
            surplus -= div_ceil(equity_before * maintenance_after, maintenance_before)
        market = self.markets[action.market]
        closed_value = get_executed_value(market, position.size, action.levels)
        nominal = market.liquidation.fee.apply_up(closed_value)
        asset = market.settle_asset
        if action.fee > max(0, surplus):
            self._find(Violation.FEE_ABOVE_SURPLUS, line, account.id,
                       "the fee takes more than the surplus the fills left",
                       fee=self._amount(action.fee, asset),
                       surplus=self._amount(max(0, surplus), asset))  # fmt: skip
        if action.fee > nominal:
            self._find(Violation.FEE_ABOVE_RATE, line, account.id,
                       "the fee is above the market's liquidation fee rate on the value closed",
                       fee=self._amount(action.fee, asset),
                       nominal=self._amount(nominal, asset))  # fmt: skip

    def _consume(self, action: Step) -> None:
        """Take the fills out of the replayed book where it has them (STATE-2)."""
        entry = self.state.markets[action.market]
        side = entry.book.bids if action.selling else entry.book.asks
        taken = Counter[int]()
        for price, size in action.levels:
            taken[price] += size
        if not any(level.price in taken for level in side):
            return
        left = tuple(
            attrs.evolve(level, size=level.size - min(level.size, taken[level.price]))
            for level in side
        )
        kept = tuple(level for level in left if level.size > 0)
        book = attrs.evolve(entry.book, **({"bids": kept} if action.selling else {"asks": kept}))
        self.state = with_market(self.state, attrs.evolve(entry, book=book))

    def _takeover(self, action: TakenOver, line: _Line) -> None:
        held_at = self._held(action, line)
        if held_at is None:
            return
        account, index = held_at
        position = account.positions[index]
        entry = self.state.markets[action.market]
        market = entry.market
        if action.size != position.size:
            self._find(Violation.CONTINUITY, line, account.id,
                       "a takeover of another size than the replayed position",
                       expected=format_size(market, position.size),
                       observed=format_size(market, action.size))  # fmt: skip
            return
        if not account.liquidating and not is_liquidatable(get_unit(self.state, account)):
            self._find(Violation.PREMATURE, line, account.id,
                       "a takeover of a unit that was not in liquidation",
                       **self._unit_numbers(account))  # fmt: skip
        quote = get_bankruptcy_quote(self.state, account, index, position.size)
        expected = entry.mark if quote is None else quote
        if action.price != expected:
            self._find(Violation.TAKEOVER_PRICE, line, account.id,
                       "the fund took the position at another price than the bankruptcy quote",
                       expected=format_price(market, expected),
                       observed=format_price(market, action.price))  # fmt: skip
        closed = get_closed_account(self.state, account, index, ((action.price, position.size),))
        direction = int(position.side) * (1 if market.contract is ContractKind.LINEAR else -1)
        gain = direction * (get_value(market, position.size, entry.mark)
                            - get_value(market, position.size, action.price))  # fmt: skip
        subsidy = max(0, -gain)
        residual = -closed.balance if closed.balance < 0 and not closed.positions else 0
        self.state = with_account(self.state, attrs.evolve(
            closed, balance=closed.balance - subsidy, liquidating=True))  # fmt: skip
        self.liquidated[market.settle_asset] += get_value(market, position.size, action.price)
        line.gain = (market.fund, gain) if gain > 0 else None
        deficit = subsidy + residual
        side, cap = int(position.side), market.liquidation.insurance_step_cap
        line.deficit = _Deficit(market.fund, account.id, side, deficit, cap) if deficit else None

    def _fund(self, action: FundMove, line: _Line) -> None:
        fund = action.fund
        held = self.state.funds.get(fund)
        if held is None:
            self._find(Violation.FUND_BALANCE, line, None, f"a change to unknown fund {fund}")
            return
        if held + action.delta != action.balance:
            self._find(Violation.FUND_BALANCE, line, None,
                       "the fund's stated balance is not its replayed balance plus the change",
                       expected=self._amount(held + action.delta, fund),
                       observed=self._amount(action.balance, fund))  # fmt: skip
        expected = self._expected_delta(action, line, held)
        if expected is not None and expected != action.delta:
            self._find(Violation.FUND_DELTA, line, None,
                       f"a {action.cause} change of another amount than the rules give",
                       expected=self._amount(expected, fund),
                       observed=self._amount(action.delta, fund))  # fmt: skip
        balance = held + action.delta
        if balance < 0:
            self._find(Violation.FUND_NEGATIVE, line, None, "the fund went below zero",
                       balance=self._amount(balance, fund))  # fmt: skip
        self.state = attrs.evolve(self.state, funds={**self.state.funds, fund: balance})
        if action.cause == "deficit" and line.deficit is not None:
            owner = self.state.accounts[line.deficit.account]
            self.state = with_account(self.state, attrs.evolve(
                owner, balance=owner.balance - action.delta))  # fmt: skip
            line.deficit.covered -= action.delta
            line.deficit.paid -= action.delta
        if action.cause == "liquidation-fee" and line.fee is not None and line.fee[0] == fund:
            line.fee = None
        elif action.cause == "takeover" and line.gain is not None and line.gain[0] == fund:
            line.gain = None

    def _expected_delta(self, action: FundMove, line: _Line, held: int) -> int | None:
        """Return the change the rules give for the cause, as the line's actions set it."""
        if action.cause == "liquidation-fee":
            return line.fee[1] if line.fee is not None and line.fee[0] == action.fund else 0
        if action.cause == "takeover":
            return line.gain[1] if line.gain is not None and line.gain[0] == action.fund else 0
        deficit = line.deficit
        if deficit is None or deficit.fund != action.fund:
            return 0
        return -deficit.get_fund_due(held)

    def _deleverage(self, action: Deleverage, line: _Line) -> None:
        market = self.markets[action.market]
        asset = market.settle_asset
        deficit = line.deficit
        owner = None if deficit is None else deficit.account
        remaining = 0 if deficit is None else deficit.amount - deficit.covered
        if deficit is not None:
            fund = self.state.funds.get(deficit.fund, 0)
            if deficit.get_fund_due(fund) > 0:
                self._find(Violation.ADL_EARLY, line, owner,
                           "deleveraging while the fund could still pay the deficit",
                           fund=self._amount(fund, deficit.fund),
                           deficit=self._amount(remaining, asset))  # fmt: skip
        if action.method != "socialize" and deficit is not None:
            self._check_order(action, line, deficit)
        shares = sum(share for _, _, share in action.allocations)
        if action.deficit != remaining or shares + action.unallocated != action.deficit:
            reported = self._find(Violation.ADL_TOTAL, line, owner,
                       "the allocated shares do not add up to the deficit left after the fund",
                       deficit=self._amount(remaining, asset),
                       stated_deficit=self._amount(action.deficit, asset),
                       shares=self._amount(shares, asset),
                       unallocated=self._amount(action.unallocated, asset),
                       overshoot=self._amount(max(0, shares - remaining), asset))  # fmt: skip
            if reported:
                self.overshoot[asset] += max(0, shares - remaining)
        for name, lots, share in action.allocations:
            self._allocate(action, line, name, lots, share)
        if deficit is not None:
            account = self.state.accounts[deficit.account]
            self.state = with_account(self.state, attrs.evolve(
                account, balance=account.balance + shares))  # fmt: skip
            deficit.covered += shares

    def _check_order(self, action: Deleverage, line: _Line, deficit: _Deficit) -> None:
        """INS-4, INS-7: the counterparties taken appear in the ranking, in its order.

        ADL's ranking is INS-4's; bilateral deleveraging's is every holder of the other side
        in id order (INS-7).
        """
        market, side = self.markets[action.market], -deficit.side
        if action.method == "adl":
            ranked = get_adl_ranking(self.state, market, side, deficit.account)
            ranking = [name for _, name in ranked]
        else:
            ranking = get_offsetting_accounts(self.state, market, side, deficit.account)
        places = {name: i for i, name in enumerate(ranking)}
        order = [places.get(name, len(ranking)) for name, _, _ in action.allocations]
        if order != sorted(order) or len(ranking) in order:
            self._find(Violation.ADL_ORDER, line, deficit.account,
                       f"{action.method} took counterparties out of its order (or others)",
                       ranking=" ".join(ranking[:10]),
                       taken=" ".join(name for name, _, _ in action.allocations))  # fmt: skip

    def _allocate(self, action: Deleverage, line: _Line, name: str, lots: int, share: int) -> None:
        account = self._account(name, line)
        if account is None:
            return
        line.accounts.add(name)
        if action.method == "socialize" or lots == 0:
            self.state = with_account(self.state, attrs.evolve(
                account, balance=account.balance - share))  # fmt: skip
            return
        index = self._position_index(account, action.market, line)
        if index is None:
            return
        position = account.positions[index]
        if lots > position.size:
            self._find(Violation.CONTINUITY, line, name, "ADL closes more than the position holds")
            return
        market = self.markets[action.market]
        mark = self.state.markets[action.market].mark
        realized, left = close_part(market, position, lots, mark)
        reduced = with_position(account, action.market, left, account.balance + realized - share)
        self.state = with_account(self.state, reduced)

    def _unpaid(self, action: Unpaid, line: _Line) -> None:
        account = self._account(action.account, line)
        if account is None:
            return
        if account.positions or account.balance != -action.amount:
            asset = account.asset
            self._find(Violation.BAD_DEBT, line, account.id,
                       "bad debt that is not the replayed negative balance of a closed unit",
                       expected=self._amount(max(0, -account.balance), asset),
                       observed=self._amount(action.amount, asset))  # fmt: skip

    def _ended(self, action: Ended, line: _Line) -> None:
        account = self._account(action.account, line)
        if account is None:
            return
        unit = get_unit(self.state, account)
        if unit.legs and get_equity(unit) < get_exit_threshold(unit):
            numbers = self._unit_numbers(account)
            numbers["threshold"] = self._amount(get_exit_threshold(unit), account.asset)
            self._find(Violation.ENDED_EARLY, line, account.id,
                       "liquidation ended below the exit threshold", **numbers)  # fmt: skip
        self.state = with_account(self.state, attrs.evolve(account, liquidating=False))

    # --- the line's checks ---

    def _get_due(self) -> list[tuple[str, dict[str, str]]]:
        """Return the units liquidatable once the event and the market rules are applied.

        In LIQ-3's queue order, with their numbers then: the units the liquidation procedure
        must take up on this line (AUDIT-2). Units the line's own actions push below
        maintenance are due on the next line.
        """
        queue, self.state = get_indexed_queue(self.state)
        due = []
        for name in queue:
            account = self.state.accounts[name]
            if is_liquidatable(get_unit(self.state, account)):
                due.append((name, self._unit_numbers(account)))
        return due

    def _check_missed(self, line: _Line, due: list[tuple[str, dict[str, str]]]) -> None:
        for name, numbers in due:
            if name not in line.handled:
                self._find(Violation.MISSED, line, name,
                           "below maintenance after the event and no liquidation action",
                           **numbers)  # fmt: skip
        _, self.state = get_indexed_queue(self.state)  # keeps the index's changes small

    def _check_conserved(self, before: State, event: Event, line: _Line, changed: set[str]) -> None:
        """AUDIT-4: value per asset moves only by deposits, withdrawals and outside fills."""
        after = self.state
        at_marks = attrs.evolve(before, markets=after.markets)
        expected: defaultdict[str, int] = defaultdict(int)
        actual: defaultdict[str, int] = defaultdict(int)
        for name in changed:
            if name in before.accounts:
                account = before.accounts[name]
                expected[account.asset] += get_equity(get_unit(at_marks, account))
            account = after.accounts[name]
            actual[account.asset] += get_equity(get_unit(after, account))
        for fund in set(before.funds) | set(after.funds):
            expected[fund] += before.funds.get(fund, 0)
            actual[fund] += after.funds.get(fund, 0)
        for asset, value in line.external.items():
            expected[asset] += value
        self._add_event_flows(before, event, expected)
        for asset in sorted(set(expected) | set(actual)):
            if expected[asset] != actual[asset]:
                self._find(Violation.NOT_CONSERVED, line, None,
                           f"value in {asset} changed by more than the flows from outside",
                           expected=self._amount(expected[asset], asset),
                           observed=self._amount(actual[asset], asset))  # fmt: skip

    def _add_event_flows(
        self, before: State, event: Event, expected: defaultdict[str, int]
    ) -> None:
        if self.state is before:
            return
        if isinstance(event, Deposit):
            expected[event.asset] += event.amount
        elif isinstance(event, Withdrawal):
            expected[event.asset] -= event.amount
        elif isinstance(event, Fill):
            market = self.markets[event.market]
            isolated = event.margin is MarginMode.ISOLATED
            unit = get_isolated_id(event.account, event.market) if isolated else event.account
            owner = before.accounts.get(unit)
            held = 0
            for p in owner.positions if owner else ():
                if p.market == event.market:
                    held = int(p.side) * p.size
            moved = held + int(event.side) * event.size
            mark = self.state.markets[event.market].mark
            expected[market.settle_asset] += external_delta(market, held, moved, event.price, mark)

    # --- the result ---

    @property
    def errors(self) -> int:
        """Return the number of reported findings of severity error."""
        return sum(f.violation.severity is Severity.ERROR for f in self.findings)
