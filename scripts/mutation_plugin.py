"""pytest plugin for ``scripts/mutation.py``: installs the mutant named by $LIQSPEC_MUTANT."""

from __future__ import annotations

import os

from mutation import install, parse_id  # scripts/ is on the path

install(parse_id(os.environ["LIQSPEC_MUTANT"]))
