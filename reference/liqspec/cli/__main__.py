"""``python -m liqspec.cli``: the same command line as the ``liqspec`` script."""

from liqspec.cli import main

if __name__ == "__main__":
    main()
