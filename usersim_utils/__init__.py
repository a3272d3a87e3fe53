"""usersim_utils: the tested logic behind the User-Sim Index notebooks.

Modules (pure logic first, I/O last):

* ``ids``        instance-id grammar: domains, tasks, batches, runs
* ``survey``     the 8 ordinal survey items and the Eval agreement (spec §6)
* ``features``   the 19 behavioural features of one conversation (spec §2-3)
* ``usi``        rows, Dice, D1-D4, ECE, Eval, the human ceiling and USI (spec §4-7)
* ``data``       reading and validating the study's files; ``python -m usersim_utils.data``
* ``demo``       the seeded SYNTHETIC demo panel used when the real data is absent
* ``figures``    the one altair theme, colours and PNG/SVG export
* ``provenance`` what produced a result: code, data, parameters
* ``paths``      every location, resolved from the repository root
"""

__version__ = "0.1.0"
