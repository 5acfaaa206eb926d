"""``python -m restplus`` is the ``restplus`` command."""

import sys

from restplus.cli import main

sys.exit(main())
