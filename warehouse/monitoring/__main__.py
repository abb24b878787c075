import sys

from warehouse.monitoring.cli import main

sys.exit(main())
