"""pytest plugin for ``scripts/mutation.py``: installs the mutant named by $LIQSPEC_MUTANT."""

from __future__ import annotations

import os

from mutation import install  # type: ignore[import-not-found]  # scripts/ is on the path

install(os.environ["LIQSPEC_MUTANT"])
