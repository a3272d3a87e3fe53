"""``python -m usersim_utils.data``: validate, download and describe the study's data."""

import sys

from .cli import main

sys.exit(main())
