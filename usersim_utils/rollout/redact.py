"""Secrets taken out of everything the rollout prints or stores.

Two kinds of secret:

* the values of the credential variables of the environment (:func:`secret_values`:
  ``OPENAI_API_KEY``, ``HF_TOKEN``...): a server may echo the key it was sent, in an
  error body or inside a normal reply;
* credentials written into a URL (``http://user:KEY@host/v1``), which an ``--api-base``
  may carry into an error line or the resolved card.

:func:`redact` is the one scrubber: error lines (``errors.describe``) and every JSON file
the rollout writes (``cache.write_json_atomic``: results, work files, cache, card,
ledger) go through it. Error lines also lose any ``Bearer <token>``; stored text keeps
the word (a customer may write "the bearer of this card").
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping

#: Shortest environment value treated as a secret (shorter ones are not keys, and
#: redacting them would garble ordinary words).
MIN_SECRET_CHARS = 8
REDACTED = "[redacted]"

#: Names of environment variables that hold credentials: OPENAI_API_KEY,
#: ANTHROPIC_API_KEY, HF_TOKEN, AWS_SECRET_ACCESS_KEY, AZURE_AD_TOKEN, ...
_SECRET_NAME_RE = re.compile(r"(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$|SECRET|TOKEN|API_?KEY", re.IGNORECASE)
_BEARER_RE = re.compile(r"(Bearer\s+)[^\s\"',;]+", re.IGNORECASE)
#: ``scheme://userinfo@``: the user and password of a URL (no '/', '@' or space inside).
_URL_CREDENTIALS_RE = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]{0,15}://)[^/@\s\"'<>]{1,256}@")


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of the credential variables of ``environ`` (default ``os.environ``) at
    least :data:`MIN_SECRET_CHARS` long, longest first (so that a key containing
    another is redacted whole)."""
    env = os.environ if environ is None else environ
    return list(_secrets_of(tuple(env.items())))


@functools.lru_cache(maxsize=8)
def _secrets_of(items: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """:func:`secret_values` of one state of the environment (read again only when it changes:
    every stored file is scrubbed, one per model call)."""
    values = {v for k, v in items if _SECRET_NAME_RE.search(k) and len(v) >= MIN_SECRET_CHARS}
    return tuple(sorted(values, key=len, reverse=True))


def _spellings(value: str) -> list[str]:
    """A secret as it appears in plain text and inside a JSON string (escaped)."""
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    return [value] if escaped == value else [value, escaped]


def redact(text: str, secrets: Iterable[str] | None = None, *, bearer: bool = True) -> str:
    """``text`` with every secret value (default: :func:`secret_values`), written plainly
    or JSON-escaped, every URL's user and password and, with ``bearer``, every
    ``Bearer <token>`` replaced by ``[redacted]``."""
    for value in secret_values() if secrets is None else secrets:
        for spelling in _spellings(value):
            if spelling in text:
                text = text.replace(spelling, REDACTED)
    if "://" in text:
        text = _URL_CREDENTIALS_RE.sub(rf"\g<1>{REDACTED}@", text)
    return _BEARER_RE.sub(rf"\g<1>{REDACTED}", text) if bearer else text

