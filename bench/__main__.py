"""``python -m bench``: run the benchmark (see :mod:`bench.run` for the options)."""

import sys

from bench.run import main

sys.exit(main())
