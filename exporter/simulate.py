"""``python -m exporter.simulate``: the old name of ``python -m exporter.simulator``, kept so
that existing scripts and compose files go on working."""

import sys

from exporter.simulator.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
