"""``python -m photonas``: the same command as ``photonas`` (see :mod:`photonas.cli`)."""

import sys

from photonas.cli import main

if __name__ == "__main__":
    sys.exit(main())
