"""What both fuzzers share: the adapter under test, and a scratch folder for Hypothesis.

The adapter is restarted after a crash; the scratch folder keeps a search from writing in the
current folder. Hypothesis is imported only when a search runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from liqspec.conformance.runner import AdapterError, HandshakeError, Runner

__all__ = ["FuzzedAdapter", "scratch_storage", "search"]


class FuzzedAdapter:
    """The adapter under test, restarted after a crash; gone when a restart fails."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.gone: HandshakeError | None = None

    def reply(self, kind: str, case: dict[str, Any]) -> dict[str, Any]:
        """Send one case; return its ``output`` or ``error``, or how the adapter failed."""
        if self.gone is not None:
            raise self.gone
        case_id = f"{kind}/fuzz"
        message = {"type": "case", "id": case_id, "kind": kind, "input": case}
        try:
            reply = self.runner.request(message)
            if reply.get("id") != case_id:
                raise AdapterError(f"a reply to another case: {reply!r}"[:200])
        except AdapterError as error:
            self.runner.kill()
            try:
                self.runner.start()
            except HandshakeError as failed:
                self.gone = failed
                raise
            return {"errored": str(error)}
        return {key: reply[key] for key in ("output", "error") if key in reply} or {"reply": reply}


@contextmanager
def scratch_storage() -> Iterator[None]:
    """Point Hypothesis's cache folder (``./.hypothesis`` by default) at a temporary one.

    The search keeps no example database, and a run writes nothing in the current folder.
    """
    from hypothesis import configuration  # noqa: PLC0415 - only a search loads Hypothesis

    previous = configuration.storage_directory(intent_to_write=False).home_directory
    with tempfile.TemporaryDirectory(prefix="liqspec-fuzz-") as scratch:
        configuration.set_hypothesis_home_dir(scratch)
        try:
            yield
        finally:
            configuration.set_hypothesis_home_dir(previous)


def search(agree: Callable[[], None], adapter: FuzzedAdapter) -> bool:
    """Run a Hypothesis search in a scratch folder; return whether it found a disagreement.

    A handshake failure on a restart ends the search with that error, not a finding.
    """
    from hypothesis.errors import Flaky  # noqa: PLC0415 - only a search loads Hypothesis

    try:
        with scratch_storage():
            agree()
    except (AssertionError, HandshakeError, Flaky):  # Flaky: it disagreed, then not again
        if adapter.gone is not None:
            raise adapter.gone from None
        return True
    return False
