"""Lexical measures of one text or a few: tokens, distinct-n, MATTR, MTLD and HD-D.

Pure functions of token lists. The three per-text measures are **undefined (NaN) on a text
shorter than** :data:`MIN_TOKENS` of them, instead of falling back to a ratio that is not
comparable: the type-token ratio of a 10-word text is not the ratio of a 25-word window
(fewer words, fewer chances to repeat one), which made a terse simulator look more varied
than people by construction. Above that length each is, for words drawn independently from
one vocabulary, free of the text's length (MATTR and HD-D exactly, MTLD within a few per
cent): see :data:`MIN_TOKENS`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import stats as scipy_stats

TOKEN_PATTERN = r"[a-z0-9]+(?:'[a-z0-9]+)?"
_TOKEN = re.compile(TOKEN_PATTERN)
MATTR_WINDOW = 25
#: HD-D's sample size (McCarthy & Jarvis 2007): the expected share of a text's types in a
#: random draw of this many of its tokens.
HDD_SAMPLE = 42
#: MTLD's type-token ratio at which a factor ends (McCarthy & Jarvis 2010), and the fewest
#: tokens a factor may hold (the ``lexical-diversity`` package's ``min``).
MTLD_THRESHOLD = 0.72
MTLD_MIN_FACTOR = 10
#: The shortest text each per-text measure is defined on. MATTR: one whole window. HD-D: one
#: whole sample (below, the draw of 42 tokens does not exist). For words drawn independently
#: both are then free of the text's length (every window, and a random sample of a text, is
#: that many independent words). MTLD has no such guarantee: on Zipf-distributed words (four
#: vocabularies, 2,000 texts each) a text of 42-50 tokens scores 7-9% above one of 1,000 tokens
#: of the same process, of 100 tokens 3-5%, of 150 2-3%; 100 is where McCarthy & Jarvis
#: (2010) validate it.
MIN_TOKENS: dict[str, int] = {"mattr": MATTR_WINDOW, "mtld": 100, "hdd": HDD_SAMPLE}


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (:data:`TOKEN_PATTERN`: letters and digits, an
    inner apostrophe kept: "don't")."""
    return _TOKEN.findall(text.lower())


def ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The n-grams of one token list (len(words) − n + 1 of them, none when shorter)."""
    return list(zip(*(words[i:] for i in range(n))))


def distinct_n(token_lists: Sequence[Sequence[str]], n: int) -> float:
    """Distinct n-grams / n-grams over several token lists (n-grams within each list);
    NaN when there is no n-gram."""
    grams = [g for words in token_lists for g in ngrams(words, n)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def mattr(words: Sequence[str], window: int = MATTR_WINDOW) -> float:
    """Moving-average type-token ratio of ``words`` (n,) (Covington & McFall 2010): the mean
    over the n − window + 1 windows of distinct/window; NaN when n < window. Linear time
    (counts updated as the window slides)."""
    n = len(words)
    if n < window:
        return float("nan")
    counts = Counter(words[:window])
    total = len(counts)
    for i in range(window, n):
        old, new = words[i - window], words[i]
        counts[old] -= 1
        if counts[old] == 0:
            del counts[old]
        counts[new] += 1
        total += len(counts)
    return total / ((n - window + 1) * window)


def _mtld_factors(words: Sequence[str], threshold: float, min_factor: int) -> float:
    """MTLD's factor count in one direction: a factor ends at the first token where the
    running type-token ratio falls below ``threshold`` with at least ``min_factor`` tokens;
    the remainder at the last token counts (1 − its ratio) / (1 − threshold)."""
    factors, seen, length = 0.0, set(), 0
    for i, word in enumerate(words):
        seen.add(word)
        length += 1
        ratio = len(seen) / length
        if i + 1 == len(words):
            factors += (1 - ratio) / (1 - threshold)
        elif ratio < threshold and length >= min_factor:
            factors += 1
            seen, length = set(), 0
    return factors


def mtld(words: Sequence[str], *, threshold: float = MTLD_THRESHOLD, min_factor: int = MTLD_MIN_FACTOR,
         min_tokens: int = MIN_TOKENS["mtld"]) -> float:
    """Measure of textual lexical diversity (McCarthy & Jarvis 2010) of ``words`` (n,): n over
    the factor count, averaged over the text read forwards and backwards, as the
    ``lexical-diversity`` package's ``mtld`` computes it (``tests/test_diversity.py`` checks
    the two agree). NaN when n < ``min_tokens``, or when a direction has no factor (a text
    that never repeats a word; the package returns 0 there). Linear time."""
    if len(words) < min_tokens:
        return float("nan")
    forward = _mtld_factors(words, threshold, min_factor)
    backward = _mtld_factors(list(reversed(words)), threshold, min_factor)
    if forward == 0 or backward == 0:
        return float("nan")
    return (len(words) / forward + len(words) / backward) / 2


def hdd_values(token_lists: Sequence[Sequence[str]], *, sample: int = HDD_SAMPLE) -> np.ndarray:
    """(n,) HD-D of each token list (McCarthy & Jarvis 2007), as a share like the
    ``lexical-diversity`` package's ``hdd``: Σ over types of P(the type is in a draw of
    ``sample`` tokens without replacement) / ``sample``, by the hypergeometric law; the
    expected type-token ratio of such a draw. NaN for a list shorter than ``sample`` (no such
    draw; the package returns 0). One ``scipy.stats.hypergeom`` call for all the lists."""
    frequencies = [np.fromiter(Counter(words).values(), dtype=np.int64) for words in token_lists]
    lengths = np.array([len(words) for words in token_lists], dtype=np.int64)
    long_enough = lengths >= sample
    owner = np.repeat(np.arange(len(token_lists)), [len(f) for f in frequencies])
    types = np.concatenate([*frequencies, np.zeros(0, dtype=np.int64)])
    keep = long_enough[owner]
    present = 1.0 - scipy_stats.hypergeom.pmf(0, lengths[owner[keep]], types[keep], sample)
    sums = np.bincount(owner[keep], present, minlength=len(token_lists))
    return np.where(long_enough, sums / sample, np.nan)


def hdd(words: Sequence[str], *, sample: int = HDD_SAMPLE) -> float:
    """HD-D of one token list (:func:`hdd_values`)."""
    return float(hdd_values([words], sample=sample)[0])


def per_text_values(token_lists: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """``{"mattr", "mtld", "hdd": (n,) values}`` of each token list (NaN where undefined)."""
    return {"mattr": np.array([mattr(words) for words in token_lists], dtype=float),
            "mtld": np.array([mtld(words) for words in token_lists], dtype=float),
            "hdd": hdd_values(token_lists)}
