"""Deprecated alias: :mod:`usersim_utils.scoring` under its old name.

``from usersim_utils import scorer`` gives the very module object of
:mod:`usersim_utils.scoring` (so attributes, and tests that patch them, behave the
same); new code imports ``scoring``.
"""

import sys

from . import scoring

sys.modules[__name__] = scoring
