"""`python -m handoff_kit` runs the `handoff` command."""

import sys

from handoff_kit.cli import main

sys.exit(main())
