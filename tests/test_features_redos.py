"""Scoring in linear time, identical to the spec's patterns: one crafted turn must not stall it.

The spec's IDS alternation (usi.md §3) backtracks cubically on long word runs: one
user turn of 3,000 underscores took 122 s to score. ``features.id_matches`` must
return exactly what ``re.findall`` of the spec's alternation returns, fast. Markup
removal was quadratic in the number of unclosed ``<|think|>``/``<|tool|>`` tags.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest

from usersim_utils import features as F

#: The spec's IDS pattern taken literally: the reference (fast enough below ~60 chars).
SPEC_IDS = re.compile("|".join(F.IDS_ALTERNATIVES))
#: The same, with one named group per alternative, to see which one matched.
SPEC_IDS_NAMED = re.compile("|".join(f"(?P<alt{i}>{p})" for i, p in enumerate(F.IDS_ALTERNATIVES)))

# Character pools the random strings draw from: what the alternatives hinge on
# (underscores, digits, '#', '@', '.', word boundaries), non-ASCII word characters
# ('é' is \w but not [a-z0-9]; '٣' is \d but not [0-9]) and whole pieces of ids.
POOLS: tuple[tuple[str, ...], ...] = (
    ("_",),
    tuple("0123456789"),
    tuple("abcdefgxyz"),
    ("#",),
    ("@",),
    (".",),
    (" ",),
    ("é", "٣", "ß"),
    ("-", ",", "\n", "'"),
    ("gift_card_", "credit_card_", "paypal_", "_123", "12345", "a_b_"),
)


def random_strings(rng: np.random.Generator, count: int, max_len: int = 60) -> Iterator[str]:
    """``count`` strings of at most ``max_len`` characters; each string draws its
    pieces from the pools with its own Dirichlet weights, so some are nearly all
    underscores or digits and others are mixed."""
    for _ in range(count):
        weights = rng.dirichlet(np.full(len(POOLS), 0.6))
        n_pieces = int(rng.integers(0, max_len + 1))
        pools = rng.choice(len(POOLS), size=n_pieces, p=weights)
        members = rng.integers(0, 2**31, size=n_pieces)
        text = "".join(POOLS[p][m % len(POOLS[p])] for p, m in zip(pools.tolist(), members.tolist()))
        yield text[:max_len]


@pytest.fixture
def fresh_turn_cache() -> Iterator[None]:
    """Per-turn results are cached; start and end each test with an empty cache."""
    F._turn_flags.cache_clear()
    yield
    F._turn_flags.cache_clear()


def test_id_matches_equal_the_spec_pattern_on_random_strings() -> None:
    rng = np.random.default_rng(20260509)
    first_alternative: Counter[str] = Counter()
    n_matches = 0
    differing = []
    for text in random_strings(rng, 20_000):
        expected = SPEC_IDS.findall(text)
        if F.id_matches(text) != expected:
            differing.append(text)
        n_matches += len(expected)
        first_alternative.update(m.lastgroup for m in SPEC_IDS_NAMED.finditer(text))
    assert differing == [], differing[:5]
    # the sample exercises every alternative, not just the easy ones
    assert n_matches > 10_000
    assert all(first_alternative[f"alt{i}"] >= 100 for i in range(len(F.IDS_ALTERNATIVES))), first_alternative


@pytest.mark.parametrize(
    "text",
    [
        "a_b_123x@y.z",  # a match ending inside a word, then another from there
        "_a_1234_5_678",  # the last '_ddd' wins, though an earlier one fits too
        "x_y_12_3",  # a '_' followed by only two digits does not count
        "#a12345b #12 #_99999",  # '#' then a word with five digits in a row
        "xgift_card_a paypal_ credit_card_é",  # literal ids inside words; none at a word's end
        "wallet 123456 123456_ ab٣٣٣٣٣",  # \b, and non-ASCII digits
        "a@b.c@d.e a@b a.b@c",  # mail addresses need '@' then '.'
    ],
)
def test_id_matches_equal_the_spec_pattern_on_edge_cases(text: str) -> None:
    assert F.id_matches(text) == SPEC_IDS.findall(text)


def test_all_features_unchanged_on_random_conversations(
    monkeypatch: pytest.MonkeyPatch, fresh_turn_cache: None
) -> None:
    rng = np.random.default_rng(7)
    texts = list(random_strings(rng, 2_000))
    conversations = []
    for start in range(0, len(texts), 5):
        turns = texts[start : start + int(rng.integers(1, 6))]
        conversations.append([m for t in turns for m in (
            {"role": "user", "content": t}, {"role": "assistant", "content": "ok"})])
    fast = [F.conversation_features(c, "llm") for c in conversations]
    F._turn_flags.cache_clear()
    monkeypatch.setattr(F, "id_matches", SPEC_IDS.findall)
    reference = [F.conversation_features(c, "llm") for c in conversations]
    assert fast == reference
    assert sum(1 for row in fast if row and row["id_density"] > 0) > len(fast) / 2


MARKUP_PIECES = ("<|think|>", "<|/think|>", "<|tool|>", "<|/tool|>", "<function=", "</function>",
                 "a", " ", "\n", "<", "|", ">")


def spec_strip_markup(text: str) -> str:
    """Markup removal as spec usi.md §2 states it: three plain substitutions."""
    text = re.sub(r"<\|think\|>.*?<\|/think\|>", "", text, flags=re.DOTALL)
    text = re.sub(r"<function=.*?(?:</function>|$)", "", text, flags=re.DOTALL)
    return re.sub(r"<\|tool\|>.*?<\|/tool\|>", "", text, flags=re.DOTALL)


def test_strip_markup_equals_the_spec_substitutions_on_random_strings() -> None:
    rng = np.random.default_rng(11)
    differing = []
    for _ in range(5_000):
        picks = rng.integers(0, len(MARKUP_PIECES), size=int(rng.integers(0, 25)))
        text = "".join(MARKUP_PIECES[i] for i in picks.tolist())
        if F.strip_markup(text) != spec_strip_markup(text):
            differing.append(text)
    assert differing == [], differing[:5]


@pytest.mark.parametrize("opening", ["<|think|>", "<|tool|>"])
def test_many_unclosed_tags_are_removed_in_linear_time(opening: str) -> None:
    closing = opening.replace("<|", "<|/")
    text = closing + opening * 10_000 + closing + opening * 10_000  # about 180,000 characters
    start = time.perf_counter()
    stripped = F.strip_markup(text)
    elapsed = time.perf_counter() - start
    assert stripped == closing + opening * 10_000
    assert elapsed < 1.0, f"{elapsed:.2f} s"


def _repeat(unit: str, length: int = 5_000) -> str:
    return (unit * (length // len(unit) + 1))[:length]


# 5,000-character turns of adversarial shapes, with their IDS count worked out by hand.
ADVERSARIAL_TURNS: dict[str, tuple[str, int]] = {
    "underscores": ("_" * 5_000, 0),  # 122 s at 3,000 before the fix
    "digits": ("1" * 5_000, 1),
    "letters": ("a" * 5_000, 1),
    "non-ascii letters": ("É" * 5_000, 0),
    "spaces": (" " * 5_000, 0),
    "hashes": ("#" * 5_000, 0),
    "a_1_": (_repeat("a_1_"), 0),
    "1_": (_repeat("1_"), 0),
    "_123": (_repeat("_123"), 1),  # one user id spanning the whole turn
    "a1234": (_repeat("a1234"), 1),
    "a@": (_repeat("a@"), 0),
    "xpaypal_": ("x" + _repeat("paypal_", 4_999), 1),
    "mixed ids": (_repeat("a_1_ #12345 x@y.z gift_card_9 "), 3 * 166 + 2),  # 166 units and a tail
    "you said": (_repeat("you said "), 0),
    "don't ask me": (_repeat("don't ask me "), 0),
    "function markup": (_repeat("<function="), 0),
    "think markup": (_repeat("<|think|>"), 0),
    "tool markup": (_repeat("<|tool|>"), 0),
    "ok then spaces": ("ok" + " " * 4_997 + "x", 0),
}


@pytest.mark.parametrize("shape", list(ADVERSARIAL_TURNS))
def test_a_long_adversarial_turn_scores_in_well_under_a_second(shape: str, fresh_turn_cache: None) -> None:
    turn, n_ids = ADVERSARIAL_TURNS[shape]
    assert len(turn) == 5_000
    conversation = [{"role": "assistant", "content": "Hi!"}, {"role": "user", "content": turn}]
    start = time.perf_counter()
    row = F.conversation_features(conversation, "llm")
    elapsed = time.perf_counter() - start
    assert row is not None and row["id_density"] == n_ids
    assert elapsed < 1.0, f"{shape}: {elapsed:.2f} s"
