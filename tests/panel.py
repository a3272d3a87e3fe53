"""Old name of tests/seeded_study.py ("panel" meant four things); kept until the tests
that still import it move to seeded_study."""

from seeded_study import EXTRA, TASKS, make_study, write_study  # noqa: F401
from seeded_study import make_study as make_panel  # noqa: F401
