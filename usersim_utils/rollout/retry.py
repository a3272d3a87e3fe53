"""When a failed model call is tried again, and after how long.

Retried: timeouts, connection errors and the HTTP statuses that say "later" (408, 409,
429 and 5xx); nothing else (a 400 or a 401 fails the same way every time).

The wait before retry ``n`` (0-based) is what the server asked for, when it said
(``retry-after-ms``, else ``Retry-After`` in seconds or as an HTTP date), up to
:data:`MAX_RETRY_AFTER_S`; otherwise "full jitter": a uniform draw in
``[0, min(base * 2**n, max)]``. Without jitter, the threads a 429 turned away at once all
come back at once, in lock-step, and are turned away again.
"""

from __future__ import annotations

import email.utils
import math
import random
import sys
from collections.abc import Mapping

from .replies import litellm_module

#: HTTP statuses worth retrying below 500: request timeout, conflict, rate limit.
RETRYABLE_STATUSES = frozenset({408, 409, 429})
#: Longest wait a server's ``Retry-After`` is honoured for (the OpenAI client's bound);
#: a server asking for more gets this, and the retry budget bounds the whole call.
MAX_RETRY_AFTER_S = 60.0


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` may go away if the call is made again: litellm's timeout or
    connection error, or an error carrying one of :data:`RETRYABLE_STATUSES` or a 5xx
    status. Never when litellm, whose types these are, was not even imported."""
    if "litellm" not in sys.modules:
        return False
    litellm = litellm_module()
    if isinstance(exc, (litellm.Timeout, litellm.APIConnectionError)):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status in RETRYABLE_STATUSES or 500 <= status <= 599)


def _headers_of(exc: BaseException) -> Mapping[str, str]:
    """The HTTP headers of the response an error carries (litellm's errors keep it), or none."""
    try:
        headers = exc.response.headers  # type: ignore[attr-defined]
    except Exception:  # no response, or litellm's placeholder that raises when read
        return {}
    return headers if isinstance(headers, Mapping) else {}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever its case (``httpx.Headers`` ignores case; a dict does not)."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def retry_after_s(headers: Mapping[str, str], now_epoch: float) -> float | None:
    """Seconds the server asked to wait (``retry-after-ms``, else ``Retry-After`` as
    seconds or as an HTTP date, measured from ``now_epoch``), or ``None`` when it asked
    nothing readable. A date in the past is 0."""
    millis = _header(headers, "retry-after-ms")
    if millis is not None and (value := _finite(millis)) is not None and value >= 0:
        return value / 1000.0
    text = _header(headers, "retry-after")
    if text is None:
        return None
    if (value := _finite(text)) is not None:
        return value if value >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - now_epoch, 0.0) if when.tzinfo is not None else None


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def jittered_backoff(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Full jitter: uniform in ``[0, min(base_s * 2**attempt, max_s)]``."""
    return rng.random() * min(base_s * 2.0 ** min(attempt, 64), max_s)


def retry_delay(
    exc: BaseException, attempt: int, *, base_s: float, max_s: float, rng: random.Random, now_epoch: float
) -> float:
    """Seconds to wait before retry ``attempt`` (0-based) after ``exc``: the server's
    ``Retry-After`` up to :data:`MAX_RETRY_AFTER_S`, else :func:`jittered_backoff`."""
    asked = retry_after_s(_headers_of(exc), now_epoch)
    if asked is not None:
        return min(asked, MAX_RETRY_AFTER_S)
    return jittered_backoff(attempt, base_s, max_s, rng)
