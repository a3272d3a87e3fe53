"""``python -m usersim_utils.calibrate``: the ``usersim-calibrate`` command."""

from .cli import main

raise SystemExit(main())
