"""``python -m restplus`` is the ``restplus`` command."""

import sys

from restplus.cli.app import main

sys.exit(main())
