"""usersim_utils: the tested logic behind the User-Sim Index notebooks.

Module map: each module has one job. A module imports only modules of its own group and
of the groups listed before it, and the package has no import cycle (both checked by
``tests/test_structure.py``, whose ``LAYERS`` must name every new module).

The study's conventions and plumbing (import nothing above them)

* ``schema``       the study's conventions: file names and prefixes, folder layout, batch
                   suffixes, greeting, stop and meta markers, re-rating and human labels
* ``paths``        every location the project reads or writes, from the repository root
* ``errors``       bad input in one line: ``DataError``, ``DataWarning``, excerpts
* ``atomic``       atomic file writes
* ``command_line`` the conventions of every console script: usage named after the script,
                   defaults shown, an example, usage errors in one line

The metric and generic statistics, as pure functions (no file I/O)

* ``ids``          the instance-id grammar: domains, tasks, batches, runs
* ``survey``       the 8 ordinal survey items and the Eval agreement (docs/method.md §7)
* ``features``     the 19 behavioural features of a conversation, and the x100 rule (docs/method.md §3-4)
* ``usi``          rows, Dice, D1-D4, ECE, Eval, the human ceiling and USI (docs/method.md §5-8)
* ``stats``        generic statistics used by every analysis: intervals (Wilson, Fisher,
                   percentile, centred, BCa), paired tests, kappa, Kendall's tau, multiple
                   testing, cluster bootstrap

The study's files: reading, summarising, writing

* ``trajectories`` tau-bench trajectories -> the study's rollout format
* ``data/``        reading and validating the study's files: ``io``, ``validate``, ``tables``,
                   ``study`` (``resolve_study``), ``inputs`` (the files of a scoring command, checked,
                   and its one ``error:`` line), ``download``, ``cli`` (``usersim-data``)
* ``overview``     the files at a glance: counts and shares, never rows (notebook 01, ``usersim-data``)
* ``demo/``        the seeded SYNTHETIC demo study used when the real data is absent: ``phrases``
                   (tables as data, ``phrases.json``), ``styles``, ``conversations``, ``surveys``,
                   ``shapes``, ``study``, ``writer``; ``feature_tables`` (random features tables
                   for tests and benchmarks), ``known_answer`` (studies drawn from one known
                   process, for the simulation checks), ``resampled_rows`` (realistic rows)
* ``scoring``      scoring files: difficulty modes, the leaderboard's notes, its CLI (``usersim-usi``)
* ``handover``     every file one notebook writes and a later one reads
* ``published``    the paper's numbers, Arena ratings and the authors' difficulty map
* ``taubench``     the tau-bench (v1) world, from tau-trait: tasks, tools, databases, the
                   rule-based reward (played by ``rollout/``, replayed by ``audit``)
* ``rollout/``     running a simulator against an agent on the study's tasks (``usersim-rollout``);
                   ``card`` and ``comparability`` (which results ran one protocol) are read by scoring

Analyses beyond the index (one module per question)

* ``behavior``     human vs simulator behaviour, feature by feature
* ``feedback/``    simulated vs human feedback: ``answers`` (pairing, over-rating),
                   ``agreement`` (Eval per item, kappa), ``reward`` (reward vs judgement),
                   ``outcomes`` ("easy mode"), ``free_text``
* ``uncertainty/`` the index under resampling: ``arrays`` (the study as per-task arrays),
                   ``weighted`` (the index with task weights), ``bootstrap`` (intervals, ranks,
                   paired comparisons), ``ceiling`` (the human ceiling, batches relabelled)
* ``fidelity``     distribution-level fidelity and the sensitivity of the ranking
* ``arena``        USI against Chatbot Arena ratings, within each model family
* ``matched_design`` design-matched human baselines: each run scored as one human batch is
                   scored against another (``MatchedArrays``, ``matched_weights``)
* ``matched_comparison`` the matched comparison's rows: gaps with intervals, per-feature Dice,
                   the two human Eval baselines
* ``baselines``    the matched comparison of a study's files (``usersim-baselines``)
* ``equivalence``  as close to people as people are? TOST on the matched gap
* ``matched_ranking`` the leaderboard and paired comparisons on the matched gap
* ``power``        the smallest difference a design resolves (``usersim-power``)
* ``inflation``    success inflation over people: outcome agreement, fidelity as its forecast,
                   population coverage
* ``distinguish``  can a classifier tell simulated conversations from human ones?
* ``diversity``    is a simulator as varied as people?
* ``audit``        rule-based flags of simulator misbehaviour and what they cost the agent
* ``calibrate/``   a simulator card calibrated toward people, proven on held-out tasks
                   (``usersim-calibrate``): ``split``, ``targets``, ``directives``, ``proposer``,
                   ``cards``, ``play``, ``budget``, ``search``, ``report``, ``cli``, and
                   ``scripted_user`` (a SCRIPTED simulator for tests and the demo only)

Outputs and house rules

* ``figures``      the theme (``use_theme()``), colours, captions, placeholders and PNG/SVG
                   export: the one figure helper every notebook calls
* ``charts``       the chart builders (intervals, quantile boxes, distributions, bars, dots,
                   lines, labelled points), drawn with ``figures``' colours
* ``provenance``   what produced a result: code, data, parameters
* ``notebooks``    the notebooks' house rules, checked and enforced (``strip``, ``refresh``)
"""

__version__ = "0.1.0"
