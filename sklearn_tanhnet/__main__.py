"""Command line: ``tanhnet demo|fit|predict`` (also ``python -m sklearn_tanhnet``).

The logic lives in :mod:`sklearn_tanhnet._cli`.
"""

import sys

from ._cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
