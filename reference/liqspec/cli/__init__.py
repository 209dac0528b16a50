"""The command line: one click group, its commands and their printed reports (the top layer)."""

from liqspec.cli.commands import main

__all__ = ["main"]
