"""A deliberately faulty adapter for the runner's tests: the reference with one defect.

Usage: python faulty.py MODE. Engine defects: wrong-rounding (maintenance rounded down),
non-strict-trigger (equity == MM always liquidatable), wrong-tier (the tier below). Protocol
defects, on the fifth case: crash, hang, garbage, partial (half a line, then exit), flood.
"""

from __future__ import annotations

import json
import sys
import time

from liqspec.base import conventions
from liqspec.conformance.adapter import answer
from liqspec.engine import liquidation
from liqspec.model import margin, prices


def patch_engine(mode: str) -> None:
    """Install the engine defect of ``mode``, everywhere the function is looked up."""
    if mode == "wrong-rounding":
        setattr(margin, "div_ceil", conventions.div_floor)  # noqa: B010
    if mode == "non-strict-trigger":

        def inclusive(equity: int, maintenance: int, *, strict: bool) -> bool:
            return equity <= maintenance

        for module in (margin, prices, liquidation):
            module.is_below_maintenance = inclusive  # type: ignore[attr-defined]
    if mode == "wrong-tier":
        original = margin.get_tier_index
        margin.get_tier_index = lambda market, n: max(0, original(market, n) - 1)  # type: ignore[assignment]


def main() -> None:
    """Serve the protocol, misbehaving as the mode (first argument) says."""
    mode = sys.argv[1]
    patch_engine(mode)
    cases = 0
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("type") == "bye":
            return
        if message.get("type") == "case":
            cases += 1
            if cases == 5:
                if mode == "crash":
                    sys.exit(3)
                if mode == "hang":
                    time.sleep(3600)
                if mode == "garbage":
                    print("this is not JSON", flush=True)
                    continue
                if mode == "partial":
                    sys.stdout.write('{"type": "res')
                    sys.stdout.flush()
                    sys.exit(0)
                if mode == "flood":
                    sys.stdout.write("x" * (5 << 20) + "\n")
                    sys.stdout.flush()
                    continue
        print(json.dumps(answer(message)), flush=True)


if __name__ == "__main__":
    main()
