"""``python -m usersim_utils.audit``: the rule-based misbehaviour audit (``usersim-audit``)."""

import sys

from .cli import main

sys.exit(main())
