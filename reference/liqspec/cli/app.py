"""The ``liqspec`` command group and what every command shares: errors, exit codes, JSON.

Exit codes: 0 success; 1 the command ran and found what it gates on (``margin --fail-if-
liquidatable``, a failed conformance run, a broken invariant); 2 bad input or usage, with one
message naming the file, field, value and rule; 3 an internal error (a defect: please report it).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from liqspec import __version__
from liqspec.base.errors import InputError, LiqspecError, Reason
from liqspec.model.market_files import load_market
from liqspec.model.markets import Market

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FOUND",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "OneLineCommand",
    "OneLineGroup",
    "console",
    "fail",
    "guarded",
    "load_markets",
    "main",
    "print_json",
    "progress_bar",
]

EXIT_OK, EXIT_FOUND, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

console = Console(markup=False, highlight=False, width=shutil.get_terminal_size((160, 24)).columns)


def fail(error: LiqspecError, as_json: bool) -> None:
    """Print ``error`` (as JSON with ``--json``) and exit with code 2."""
    if as_json and isinstance(error, InputError):
        click.echo(json.dumps({"error": error.as_json()}, sort_keys=True))
    else:
        click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def guarded(as_json: bool, action: Callable[[], int]) -> None:
    """Run ``action``; turn a liqspec error into its message and exit code 2, never a traceback."""
    try:
        code = action()
    except LiqspecError as error:
        fail(error, as_json)
    except OSError as error:  # an output the user named cannot be written (inputs raise InputError)
        where = f"{error.filename}: " if error.filename else ""
        fail(LiqspecError(f"{where}{error.strerror or error}"), as_json)
    except RecursionError:
        fail(LiqspecError("input nested too deeply"), as_json)
    except Exception as error:  # noqa: BLE001 - the last guard: a defect is reported, not dumped
        click.echo(
            f"error: internal error ({type(error).__name__}: {str(error)[:120]}); "
            "please report it with the input that caused it",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    else:
        sys.exit(code)


def print_json(document: dict[str, Any]) -> None:
    """Print ``document`` as indented JSON with sorted keys."""
    click.echo(json.dumps(document, indent=2, sort_keys=True))


class _UsageError(click.UsageError):
    """A usage error shown as one line ``error: ...`` (exit 2), like every other error."""

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the one line, with the command whose ``--help`` explains the usage."""
        where = f" (see '{self.ctx.command_path} --help')" if self.ctx else ""
        click.echo(f"error: {self.format_message()}{where}", file=file, err=True)


def _one_line(error: click.UsageError, ctx: click.Context) -> click.UsageError:
    """Return ``error`` as a one-line usage error, but a request for help as it is."""
    help_request = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click 8.2+
    return error if isinstance(error, help_request) else _UsageError(error.format_message(), ctx)


class OneLineCommand(click.Command):
    """A command whose usage errors (bad option values, unknown options) are one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse as click does; a usage error becomes one ``error:`` line."""
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise _one_line(error, ctx) from None


class OneLineGroup(click.Group):
    """A group whose usage errors (an unknown command, an unknown option) are one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse as click does; a usage error becomes one ``error:`` line."""
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise _one_line(error, ctx) from None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Find the command as click does; an unknown one is one ``error:`` line."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            raise _one_line(error, ctx) from None

    command_class = OneLineCommand


OneLineGroup.group_class = OneLineGroup


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="liqspec")
def main() -> None:
    """Liqspec: the reference liquidation engine, as a command line.

    Every number is exact: amounts and prices are printed as decimal text in their asset,
    computed with integers in the market's base units (ticks, lots, quantums). The rules are
    in spec/; each error names the rule it enforces.

    \b
    Examples:
      liqspec run spec/scenarios/partial-restored-by-one-step.toml
      liqspec prove spec/markets/*.toml
      liqspec gate spec/markets/binance-btcusdt-2022-02-12.toml \\
                   spec/markets/binance-btcusdt-2024-10-24.toml
      liqspec check-market spec/markets/binance-btcusdt-2024-10-24.toml
      liqspec margin --market spec/markets/binance-btcusdt-2024-10-24.toml \\
                     --account spec/accounts/demo-cross.toml --json
    """


def load_markets(paths: Iterable[Path]) -> dict[str, Market]:
    """Load market files; two files for one symbol are an error (MARKET-11)."""
    markets: dict[str, Market] = {}
    for path in paths:
        market = load_market(path)
        if market.symbol in markets:
            detail = "another market file given earlier defines this symbol"
            raise InputError(
                Reason.DUPLICATE_MARKET, "market.symbol", market.symbol, detail, str(path)
            )
        markets[market.symbol] = market
    return markets


@contextmanager
def progress_bar(label: str, total: int, *, quiet: bool) -> Iterator[Callable[[int], None]]:
    """Show a progress bar on stderr when it is a terminal; yield ``done -> None`` to advance."""
    err = Console(stderr=True)
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(
        *columns, console=err, transient=True, disable=quiet or not err.is_terminal
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)
