"""``python -m usersim_utils.distinguish``: the classifier two-sample test (``usersim-distinguish``)."""

import sys

from .cli import main

sys.exit(main())
