"""`python -m ome_writers` (also installed as the `ome-writers` command)."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
