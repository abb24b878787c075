"""``python -m copilot``: see :mod:`copilot.cli`."""

import sys

from copilot.cli import main

sys.exit(main())
