"""Model replies parse in linear time (one hostile or broken reply must not stall a run): any
reply up to 1 MB (the survey parser of ``rollout/protocol.py``, the study harness's markup
parser and thinking stripper of ``rollout/harness.py``), on the shapes that made the old
patterns backtrack: runs of white space, ``_`` and digits, unclosed fences and tags.
Before: a code fence and 80,000 spaces took 96.5 s; 104k characters of markup 5 s. Now each
takes at most 0.13 s on a loaded 2-core machine (about 0.05 s idle).

Two checks, both indifferent to the machine's load: a bound (0.5 s) far below the old
patterns' seconds, and the growth from a tenth of the reply to all of it, which is about 10×
for a linear parser and 100× for a quadratic one.

On small replies the new parsers agree with the old patterns, kept here as the oracle.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import numpy as np
import pytest

from usersim_utils import survey
from usersim_utils.rollout import harness, protocol

MB = 1_000_000
LIMIT_S = 0.5
#: Largest accepted ratio of the 1 MB time to the 100 kB time (linear: about 10).
MAX_GROWTH = 30

SHAPES: dict[str, str] = {
    "fence-then-spaces": "```" + " " * MB,
    "fence-json-then-newlines": "```json" + "\n" * MB,
    "many-unclosed-fences": "```x" * (MB // 4),
    "spaces-then-colon": "task_success:" + " " * MB + "x",
    "underscores": "_" * MB,
    "digits": "7" * MB,
    "empty-objects": "{}" * (MB // 2),
    "open-braces": "{" * MB,
    "unclosed-parameters": "<function=f>\n" + "<parameter=a>" * (MB // 13),
    "unclosed-calls": "<function=f>\n" * (MB // 13),
    "closed-calls": "<function=f>\n<parameter=a>1</parameter>\n</function>\n" * (MB // 52),
    "marker-starts": "<[" * (MB // 2),
    "marker-ends": "]>" * (MB // 2),
    "bad-close-starts": "</function=" * (MB // 11),
    "unclosed-thinking": "<think>" * (MB // 7),
    "parameter-names": "<parameter=" * (MB // 11),
}


def best_of(parse: Callable[[str], object], text: str, tries: int = 5) -> float:
    """Fastest of a few runs (the machine is shared: one slow run is not the parser)."""
    times = []
    for _ in range(tries):
        started = time.perf_counter()
        parse(text)
        times.append(time.perf_counter() - started)
    return min(times)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_1_mb_reply_of_any_shape_parses_in_linear_time(shape: str) -> None:
    text = SHAPES[shape]
    assert len(text) >= 0.9 * MB
    tenth = text[: len(text) // 10]  # the same repeated pattern, 10x shorter
    for parse in (protocol.parse_survey, harness.parse_reply, harness.strip_thinking):
        elapsed = best_of(parse, text)
        assert elapsed < LIMIT_S, f"{parse.__name__} on {shape}: {elapsed:.3f} s"
        growth = elapsed / max(best_of(parse, tenth), 1e-3)  # below 1 ms a timer's noise dominates
        assert growth < MAX_GROWTH, f"{parse.__name__} on {shape}: 10x the text took {growth:.0f}x the time"



# --- the old patterns, as the oracle on small replies --------------------------------------

OLD_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
OLD_FIELD_LINE = re.compile(r"""^[\s\-*]*["']?(\w+)["']?\s*[:=]\s*["']?(.*?)["']?\s*,?\s*$""")
OLD_MARKER = re.compile(r"<\[[^\]\n]*\]>")
OLD_PARAM = re.compile(r"<parameter=([^>\n]+)>(.*?)</parameter>", re.DOTALL)

PIECES = ["```", "json", "```json\n", " ", "\n", "_", "7", "{", "}", '"', ":", ",", "'", "task_success",
          "<[", "]>", "]", "<function=f>", "</function>", "<parameter=a>", "</parameter>", "x", "="]  # fmt: skip


def random_replies(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(PIECES, size=int(rng.integers(0, 40)))) for _ in range(count)]


def old_field_lines(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        m = OLD_FIELD_LINE.match(line)
        if m and m.group(1) in survey.SURVEY_OPTIONS:
            found.setdefault(m.group(1), m.group(2))
    return found


def test_fences_and_field_lines_agree_with_the_old_patterns() -> None:
    for text in random_replies(3000):
        old_blocks = [b.strip() for b in OLD_FENCE.findall(text)]
        assert [text[a:b].strip() for a, b in protocol._fenced_spans(text)] == old_blocks, text
        new: dict[str, str] = {}
        for m in protocol._FIELD_LINE_RE.finditer(text):
            new.setdefault(m.group(1), protocol._field_value(m.group(2)))
        assert new == old_field_lines(text), text


def test_balanced_spans_agree_with_a_depth_counter() -> None:
    for text in random_replies(3000, seed=2):
        spans, depth, start = [], 0, 0
        for i, ch in enumerate(text):
            if ch == "{":
                start = i if depth == 0 else start
                depth += 1
            elif ch == "}" and depth > 0:
                depth -= 1
                if depth == 0:
                    spans.append((start, i + 1))
        assert protocol._balanced_spans(text) == spans, text


def test_markers_and_parameters_agree_with_the_old_patterns() -> None:
    for text in random_replies(3000, seed=1):
        markers = list(OLD_MARKER.finditer(text))
        assert harness.after_last_marker(text) == (text[markers[-1].end() :] if markers else text), text
        if "<" not in text.replace("<parameter=", "").replace("</parameter>", ""):  # names hold no '<' now
            old = {k.strip(): harness._strip_value(v) for k, v in OLD_PARAM.findall(text)}
            assert harness._parameters(text, 0, len(text)) == old, text


def test_a_study_reply_still_parses() -> None:
    reply = "thinking <[step]> I will look.\n<function=get_user_details>\n<parameter=user_id>\nann_1\n"
    parsed = harness.parse_reply(reply + "</parameter>\n</function>")
    call = harness.MarkupCall("get_user_details", {"user_id": "ann_1"})
    assert parsed.text == "I will look." and parsed.calls == (call,)
    survey = protocol.parse_survey('Sure:\n```json\n{"task_success": "Yes - Task completed"}\n```')
    assert survey["task_success"] == "Yes - Task completed"
