"""``python -m usersim_utils.diversity``: is each simulator as varied as people? (``usersim-diversity``)."""

import sys

from .cli import main

sys.exit(main())
