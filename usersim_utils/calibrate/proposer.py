"""Proposals: the gaps of the current card turned into new cards.

The default proposer, ``rules``, is deterministic given its generator (docs/method.md §18).
For every feature of the gap report (:func:`usersim_utils.calibrate.targets.gap_report`)
outside people's interval, and for the survey's positivity:

1. the directive that steers it (:data:`.directives.BY_FEATURE`; opening words, the
   spread of lengths and identifiers per message through :data:`.directives.DERIVED`);
2. a target drawn from people: the human mean of the directive's feature on the tuning
   tasks (candidate 0), or, for candidates 1..K-1, the mean of one task-bootstrap draw of
   the tuning sessions, all features jointly (a persona: a plausible population of people,
   its features as correlated as theirs);
3. when the card already carries that directive and still misses, the target is moved
   past the gap in proportion, ``value x human / simulator`` (the ratio clipped to
   [1/4, 4]; doubled when the simulator shows none of it), since a simulator follows a
   directive only approximately.

Directives of features already inside people's interval are kept as they are.

``--proposer MODEL`` hands the gap report and the current prompt to a language model
through litellm (:func:`llm_proposals`), one call per candidate through the rollout's
record/replay cache; its prompt is saved beside the search. It is off by default.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..features import FEATURE_SCALE, FEATURES
from ..rollout.cache import ResponseCache, request_key
from ..rollout.prompts import INSTRUCTION_SLOT
from . import directives
from .targets import POSITIVITY, Targets

RATIO_LIMITS = (0.25, 4.0)


class ProposerError(Exception):
    """The proposer could not propose (one line)."""


def _unit(feature: str) -> float:
    """A row value -> a directive's value (rates x 100 -> shares)."""
    return FEATURE_SCALE.get(feature, 1.0)


def persona_means(targets: Targets, rng: np.random.Generator) -> dict[str, float]:
    """One joint draw of people's means: the kept tuning sessions resampled with replacement
    (row units; positivity: the tuning mean)."""
    rows = targets.sessions[rng.integers(len(targets.sessions), size=len(targets.sessions))]
    out = dict(zip(FEATURES, (float(v) for v in rows.mean(axis=0))))
    if targets.positivity is not None:
        out[POSITIVITY] = targets.positivity.mean
    return out


def corrected(previous: float | None, human: float, simulator: float) -> float:
    """A directive's next value (module docstring, rule 3); ``human`` the first time."""
    if previous is None or math.isnan(simulator):
        return human
    if simulator <= 0:
        return max(2 * previous, human)
    return previous * float(np.clip(human / simulator, *RATIO_LIMITS))


def steered(gaps: pd.DataFrame) -> list[directives.Directive]:
    """The directives of the features outside people's interval, in vocabulary order."""
    outside = set(gaps.loc[gaps["direction"] != "inside", "feature"])
    keys = {directives.BY_FEATURE[f].key for f in outside if f in directives.BY_FEATURE}
    keys |= {directives.DERIVED[f] for f in outside if f in directives.DERIVED}
    return [d for d in directives.DIRECTIVES if d.key in keys]


def rule_values(current: Mapping[str, float], gaps: pd.DataFrame, people: Mapping[str, float]
                ) -> dict[str, float]:
    """The directives of one candidate: ``current`` with each steered directive set from
    ``people`` (``{feature: mean}`` in row units) and the parent's simulator values in ``gaps``."""
    simulator = dict(zip(gaps["feature"], gaps["simulator"]))
    values = dict(current)
    for d in steered(gaps):
        if d.feature not in people or d.feature not in simulator:
            continue
        unit = _unit(d.feature)
        values[d.key] = max(0.0, corrected(current.get(d.key), people[d.feature] / unit, simulator[d.feature] / unit))
    return values


def rule_proposals(current: Mapping[str, float], gaps: pd.DataFrame, targets: Targets, k: int,
                   rng: np.random.Generator) -> list[dict[str, float]]:
    """``k`` candidates' directives (module docstring): the people's means, then ``k - 1`` personas."""
    means = {f: d.mean for f, d in targets.features.items()}
    if targets.positivity is not None:
        means[POSITIVITY] = targets.positivity.mean
    out = [rule_values(current, gaps, means)]
    out += [rule_values(current, gaps, persona_means(targets, rng)) for _ in range(k - 1)]
    return out


# --- The optional LLM proposer. -----------------------------------------------------------------
def llm_prompt(prompt: str, gaps: pd.DataFrame, index: int, k: int) -> str:
    """What the LLM proposer is asked: the gap report and the current template."""
    table = gaps.round(3).to_string(index=False)
    return (
        "You improve the system prompt of an LLM that plays a customer talking to a support agent, so that "
        "it behaves like real people. Below: per behavioural feature, the people's mean and interval on "
        "the tuning tasks, the simulator's mean, and whether it is under, over or inside people's interval "
        "(rates in percent of messages).\n\n"
        f"{table}\n\nThe current prompt template:\n<<<\n{prompt}\n>>>\n\n"
        f"Write variant {index + 1} of {k} of an improved template. Keep the {INSTRUCTION_SLOT} slot exactly "
        "once, keep the rules, change only how the customer writes. Answer with the template only."
    )


def llm_proposals(model: str, prompt: str, gaps: pd.DataFrame, k: int, cache_dir: Path, prompt_log: Path, *,
                  completion_fn: Any = None) -> list[str]:
    """``k`` templates written by ``model`` (litellm; each call through the record/replay
    cache under ``cache_dir``); the prompts asked are appended to ``prompt_log``.
    :class:`ProposerError` (one line) when a call fails or a reply has no ``{instruction}``."""
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    if completion_fn is None:
        import litellm

        completion_fn = litellm.completion
    cache = ResponseCache(cache_dir)
    out = []
    for i in range(k):
        asked = llm_prompt(prompt, gaps, i, k)
        prompt_log.parent.mkdir(parents=True, exist_ok=True)
        with prompt_log.open("a", encoding="utf-8") as fh:
            fh.write(f"--- candidate {i} ---\n{asked}\n")
        request = {"model": model, "messages": [{"role": "user", "content": asked}], "purpose": "calibrate-proposer"}
        key = request_key(request)
        reply = cache.get(key)
        if reply is None:
            try:
                response = completion_fn(model=model, messages=request["messages"])
                text = response["choices"][0]["message"]["content"] or ""
            except Exception as exc:  # any provider failure is the proposer's one error line
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ProposerError(f"proposer {model} failed: {first[:200]}") from None
            reply = {"text": text}
            cache.put(key, reply)
        text = str(reply.get("text", "")).strip()
        if text.count(INSTRUCTION_SLOT) != 1:
            raise ProposerError(f"proposer {model} returned a template without exactly one {INSTRUCTION_SLOT} slot")
        out.append(text)
    return out
