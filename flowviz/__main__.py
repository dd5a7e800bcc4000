"""`python -m flowviz`: the same as the `flowviz` command."""

import sys

from flowviz.cli import main

sys.exit(main())
