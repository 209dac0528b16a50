"""Run a command as a child and write its peak RSS (KiB) to a file: ``launch.py OUT CMD...``.

Linux counts, in a process's peak RSS, the memory of the process it was forked from at the
moment it calls exec. A command forked straight from pytest would inherit pytest's size;
forked from this small launcher, its peak is its own. The exit status is passed through (a
signal as 128 + its number).
"""

import resource
import subprocess
import sys
from pathlib import Path

if __name__ == "__main__":
    done = subprocess.run(sys.argv[2:], check=False)  # noqa: S603 - the test's own argument list
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    Path(sys.argv[1]).write_text(str(peak), encoding="ascii")
    code = done.returncode
    sys.exit(128 - code if code < 0 else code)
