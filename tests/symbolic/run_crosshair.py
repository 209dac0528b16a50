"""Run CrossHair on the integer kernel and fail unless every declared condition is confirmed.

CrossHair's quiet failure modes (a precondition it cannot meet exits 0; contracts it skips
print nothing) are closed here: the analysis kind is named, each ``post:`` line in the
targets must appear as "Confirmed over all paths", and a seeded bug must be reported.
Budget: CROSSHAIR_BUDGET=long raises the per-condition timeout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGETS = [
    ROOT / "reference" / "liqspec" / "base" / "conventions.py",
    ROOT / "reference" / "liqspec" / "model" / "margin.py",
    ROOT / "reference" / "liqspec" / "engine" / "execution.py",
    ROOT / "reference" / "liqspec" / "engine" / "insurance.py",
    ROOT / "tests" / "symbolic" / "contracts.py",
]
SEEDED_BUG = ROOT / "tests" / "symbolic" / "seeded_bug.py"
TIMEOUT = {"fast": "8", "long": "60"}[os.environ.get("CROSSHAIR_BUDGET", "fast")]


def crosshair(*paths: Path) -> tuple[int, str]:
    """Run ``crosshair check`` with the PEP 316 analysis; return its exit code and output."""
    command = [
        sys.executable, "-m", "crosshair", "check", "--analysis_kind=PEP316",
        f"--per_condition_timeout={TIMEOUT}", "--report_all", *map(str, paths),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    return done.returncode, done.stdout + done.stderr


def declared(path: Path) -> set[int]:
    """Return the line numbers of the ``post:`` conditions declared in ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {n for n, line in enumerate(lines, 1) if re.match(r"\s*post:", line)}


def main() -> int:
    """Check the targets and the seeded bug; print a summary line; return the exit code."""
    code, output = crosshair(*TARGETS)
    confirmed = set(re.findall(r"^(.*?):(\d+): info: Confirmed over all paths\.", output, re.M))
    failures, passed = [], 0
    for path in TARGETS:
        lines = declared(path)
        missing = lines - {int(n) for f, n in confirmed if Path(f) == path}
        passed += len(lines) - len(missing)
        failures += [f"{path.name}:{n}: not confirmed" for n in sorted(missing)]
    if code != 0:
        failures.append(f"crosshair exited {code}:\n{output}")
    bug_code, bug_output = crosshair(SEEDED_BUG)
    if bug_code == 0 or "error" not in bug_output:
        failures.append("the seeded bug was not reported: the analysis is vacuous")
    print(output.strip())
    if failures:
        print("\n".join(failures))
    print(f"crosshair: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
