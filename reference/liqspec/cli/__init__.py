"""The command line: one click group, its commands and their printed reports (the top layer).

``app`` holds the group and what every command shares; each ``*_commands`` module adds its
commands to the group when imported.
"""

from liqspec.cli import (
    audit_commands,
    backtest_commands,
    cascade_commands,
    conformance_commands,
    engine_commands,
    proof_commands,
    stress_commands,
)
from liqspec.cli.app import main

__all__ = [
    "audit_commands",
    "backtest_commands",
    "cascade_commands",
    "conformance_commands",
    "engine_commands",
    "main",
    "proof_commands",
    "stress_commands",
]
