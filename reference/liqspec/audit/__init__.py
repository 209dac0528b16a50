"""Audits: replay a venue's liquidation log against the reference (spec/16-audit.md)."""

from __future__ import annotations

__all__: list[str] = []
