"""An adapter that names rejection reasons its own way ("x-" + liqspec's): for --mapping."""

from __future__ import annotations

import json
import sys

from liqspec.conformance.adapter import answer


def main() -> None:
    """Serve the protocol with renamed reasons."""
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("type") == "bye":
            break
        reply = answer(message)
        if "error" in reply:
            reply["error"] = "x-" + reply["error"]
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
