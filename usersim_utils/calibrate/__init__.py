"""Calibrating a simulator card toward people, proven on held-out tasks (``usersim-calibrate``,
docs/method.md §18, notebook 08).

Modules by job:

* :mod:`.split`         the seeded split of tasks, stratified by domain and difficulty bin;
                        the held-out sessions sealed until the final report
* :mod:`.targets`       people's feature distributions and survey answers on the tuning tasks;
                        a card's gap report
* :mod:`.directives`    the style directives a card's prompt carries (one vocabulary)
* :mod:`.proposer`      the gaps -> new cards: the deterministic rules, or an LLM (optional)
* :mod:`.cards`         candidate cards, written as normal cards with their lineage
* :mod:`.play`          a candidate's rollouts (scripted, or through the rollout runner and its cache)
* :mod:`.budget`        the plan of a search and its forecast cost (``--dry-run``)
* :mod:`.search`        rounds of candidates, successive halving, scored by the matched comparison
* :mod:`.report`        the held-out report: the starting card against the chosen one
* :mod:`.cli`           the command line
* :mod:`.scripted_user` a SCRIPTED simulator for tests and the demo only: follows directives by rule
"""
