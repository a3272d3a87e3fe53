"""Which results files ran one protocol: their simulator cards read and set side by side
for the scoring command and notebooks 04-06 (the comparison itself is
:func:`usersim_utils.rollout.card.protocol_differences`).

Apart from :mod:`.card`, which reads and writes cards with the standard library alone:
this module adds the pandas table of the notebooks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import pandas as pd

from .. import schema, trajectories
from ..errors import DataError
from . import card as rollout_card


def protocol_cards(eval_results: Sequence[str | os.PathLike[str]]) -> dict[str, dict | None]:
    """``{label: resolved simulator card}`` of each results file (``card_<label>.json``
    beside it, written by the rollout command); for a file without a card, ``None`` (a
    published file, which ran the study's protocol) or, for a tau-bench trajectory file,
    :data:`~usersim_utils.rollout.card.UNKNOWN_PROTOCOL_CARD`. A card that cannot be read is
    one :class:`DataError` line."""
    cards: dict[str, dict | None] = {}
    for path in eval_results:
        try:
            card = rollout_card.load_card_for(path)
        except ValueError as err:
            raise DataError(str(err), file=path) from None
        if card is None and trajectories.is_trajectory_file(path):
            card = rollout_card.UNKNOWN_PROTOCOL_CARD
        cards[schema.label_of(path)] = card
    return cards


#: Columns of :func:`protocol_table` after ``name`` and ``protocol``.
PROTOCOL_COLUMNS = tuple(rollout_card.STUDY_PROTOCOL)


def protocol_table(cards: Mapping[str, Mapping | None]) -> pd.DataFrame:
    """One row per results file (``cards`` from :func:`protocol_cards`): ``name``, ``protocol``
    (:func:`~usersim_utils.rollout.card.protocol_label`) and
    the fields that decide comparability (:data:`PROTOCOL_COLUMNS`; the survey prompt's
    sha256 cut to 12 characters)."""
    rows = []
    for label, card in cards.items():
        fields = rollout_card.protocol_of(card)
        sha = fields["survey_prompt_sha256"]
        rows.append({"name": label, "protocol": rollout_card.protocol_label(card), **fields,
                     "survey_prompt_sha256": sha[:12] if isinstance(sha, str) else sha})
    return pd.DataFrame(rows, columns=["name", "protocol", *PROTOCOL_COLUMNS])


def mixed_protocols_note(cards: Mapping[str, Mapping | None]) -> str | None:
    """The notebooks' warning line for results of mixed protocols (``None`` when they agree):
    the scoring command's line, which names the differing fields, without its flag."""
    return rollout_card.protocol_warning(
        cards, remedy="they are shown together below: read each protocol as its own leaderboard"
    )
