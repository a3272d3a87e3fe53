"""Model calls through litellm: record/replay cache, retries with backoff, ledger.

Every call goes through :meth:`ModelClient.complete`. It looks the request up in the
:class:`~usersim_utils.rollout.cache.ResponseCache`; on a miss it calls litellm (or an
injected completion function), retrying rate limits, timeouts, connection errors and
5xx answers with exponential backoff, records the normalised reply and books tokens
and cost in the :class:`Ledger`. API keys are never parameters: litellm reads them
from the environment (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ...).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import litellm

from .cache import ResponseCache, request_key

# No help banners on errors; never download a Hugging Face tokenizer to count tokens.
litellm.suppress_debug_info = True
litellm.disable_hf_tokenizer_download = True

#: Errors worth retrying: the request may succeed later.
RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (
    litellm.RateLimitError,
    litellm.Timeout,
    litellm.APIConnectionError,
    litellm.ServiceUnavailableError,
    litellm.InternalServerError,
    litellm.BadGatewayError,
)

CompletionFn = Callable[..., Any]


class RolloutCancelled(Exception):
    """Raised instead of a model call once the run has been cancelled."""


@dataclass(frozen=True)
class ToolCall:
    """One tool call of an agent reply; ``arguments`` is the raw JSON text the model wrote."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Reply:
    """A normalised model reply. Tokens and cost are those of the original call, also
    when the reply was replayed from the cache (``cached``)."""

    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        """The cache record (everything but ``cached``)."""
        out = asdict(self)
        out.pop("cached")
        out["tool_calls"] = [asdict(tc) for tc in self.tool_calls]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, cached: bool) -> "Reply":
        """Inverse of :meth:`to_json`."""
        return cls(
            content=str(data.get("content") or ""),
            tool_calls=tuple(ToolCall(**tc) for tc in data.get("tool_calls") or ()),
            prompt_tokens=int(data.get("prompt_tokens") or 0),
            completion_tokens=int(data.get("completion_tokens") or 0),
            cost_usd=float(data.get("cost_usd") or 0.0),
            cached=cached,
        )


@dataclass
class RoleUsage:
    """Counters of one role (``simulator`` or ``agent``) in a ledger."""

    model_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class Ledger:
    """Thread-safe tally of the calls made by one run: per role, fresh calls
    (``model_calls``, with their tokens and cost) and replays (``cache_hits``)."""

    roles: dict[str, RoleUsage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def book(self, role: str, reply: Reply) -> None:
        """Count one reply: a cache hit costs nothing now; a fresh call adds its usage."""
        with self._lock:
            usage = self.roles.setdefault(role, RoleUsage())
            if reply.cached:
                usage.cache_hits += 1
                return
            usage.model_calls += 1
            usage.prompt_tokens += reply.prompt_tokens
            usage.completion_tokens += reply.completion_tokens
            usage.cost_usd += reply.cost_usd

    def total(self) -> RoleUsage:
        """All roles summed."""
        with self._lock:
            out = RoleUsage()
            for usage in self.roles.values():
                for name, value in asdict(usage).items():
                    setattr(out, name, getattr(out, name) + value)
            return out

    def to_json(self) -> dict[str, dict[str, float]]:
        """``{role: counters}`` plus ``total``."""
        with self._lock:
            out = {role: asdict(u) for role, u in sorted(self.roles.items())}
        out["total"] = asdict(self.total())
        return out


@dataclass
class UsageTally:
    """Calls, tokens and cost of one conversation per role, as originally produced
    (a replayed reply counts like the call that recorded it), so that a conversation's
    record is the same whether it was run fresh or replayed. Not thread-safe: one
    conversation runs in one thread."""

    roles: dict[str, RoleUsage] = field(default_factory=dict)

    def add(self, role: str, reply: Reply) -> None:
        """Count one reply of ``role``."""
        usage = self.roles.setdefault(role, RoleUsage())
        usage.model_calls += 1
        usage.prompt_tokens += reply.prompt_tokens
        usage.completion_tokens += reply.completion_tokens
        usage.cost_usd += reply.cost_usd

    def to_json(self) -> dict[str, dict[str, float]]:
        """``{role: {model_calls, prompt_tokens, completion_tokens, cost_usd}}``."""
        return {
            role: {k: v for k, v in asdict(u).items() if k != "cache_hits"} for role, u in sorted(self.roles.items())
        }


def normalise_response(response: Any, model: str) -> Reply:
    """A :class:`Reply` from a litellm ``ModelResponse`` (or an object shaped like one).
    Tool calls without an id get a deterministic one, so replays hash identically."""
    message = response.choices[0].message
    calls = []
    for i, tc in enumerate(getattr(message, "tool_calls", None) or ()):
        fn = tc.function
        args = fn.arguments
        calls.append(
            ToolCall(
                id=str(getattr(tc, "id", None) or f"call_{i}"),
                name=str(fn.name or ""),
                arguments=args if isinstance(args, str) else json.dumps(args),
            )
        )
    usage = getattr(response, "usage", None)
    return Reply(
        content=str(getattr(message, "content", None) or ""),
        tool_calls=tuple(calls),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost_usd=response_cost(response, model),
    )


def response_cost(response: Any, model: str) -> float:
    """USD cost from litellm's bundled price map; 0.0 for models it does not price
    (local models, private endpoints)."""
    try:
        return float(litellm.completion_cost(completion_response=response, model=model) or 0.0)
    except Exception:  # litellm raises several types for unknown models
        return 0.0


class ModelClient:
    """Cached, retried, accounted model calls. Thread-safe.

    ``completion_fn`` defaults to ``litellm.completion``; tests inject a scripted one.
    ``sleep`` is injectable so that tests of the backoff do not wait.
    """

    def __init__(
        self,
        cache: ResponseCache | None,
        *,
        completion_fn: CompletionFn | None = None,
        max_retries: int = 6,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        request_timeout_s: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        cancel_event: threading.Event | None = None,
    ) -> None:
        self.cache = cache
        self.completion_fn = completion_fn or litellm.completion
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.request_timeout_s = request_timeout_s
        self.sleep = sleep
        self.cancel_event = cancel_event or threading.Event()
        self.ledger = Ledger()

    def backoff_delay(self, attempt: int) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): base * 2**attempt, capped."""
        return min(self.backoff_base_s * 2.0**attempt, self.backoff_max_s)

    def complete(
        self,
        role: str,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        api_base: str | None = None,
        tally: UsageTally | None = None,
        cache_tag: str | None = None,
        **params: Any,
    ) -> Reply:
        """One chat completion of ``model`` on ``messages`` with optional ``params``
        (``tools``, ``tool_choice``, ``temperature``, ``stop``, ``reasoning_effort``...),
        served from the cache when the same request was made before. ``tally``, when
        given, also counts the reply for its conversation; ``cache_tag`` (e.g. the run
        number) is part of the cache key only, so that repeated runs are fresh samples."""
        params = {k: v for k, v in params.items() if v is not None}
        request = {"model": model, "api_base": api_base, "messages": messages, "params": params, "tag": cache_tag}
        key = request_key(request)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            reply = Reply.from_json(hit, cached=True)
        else:
            reply = self._call_with_retries(model, messages, api_base, params)
            if self.cache is not None:
                self.cache.put(key, reply.to_json())
        self.ledger.book(role, reply)
        if tally is not None:
            tally.add(role, reply)
        return reply

    def _call_with_retries(
        self, model: str, messages: Sequence[Mapping[str, Any]], api_base: str | None, params: dict[str, Any]
    ) -> Reply:
        kwargs: dict[str, Any] = dict(params, timeout=self.request_timeout_s, drop_params=True)
        if api_base:
            kwargs["api_base"] = api_base
            # OpenAI-compatible servers (vLLM, llama.cpp, Ollama) usually need no key, but the
            # OpenAI client refuses to start without one: give it vLLM's conventional "EMPTY"
            # (not a secret) unless the user set OPENAI_API_KEY in the environment.
            if model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
                kwargs["api_key"] = "EMPTY"
        for attempt in range(self.max_retries + 1):
            if self.cancel_event.is_set():
                raise RolloutCancelled("run cancelled")
            try:
                response = self.completion_fn(model=model, messages=[dict(m) for m in messages], **kwargs)
                return normalise_response(response, model)
            except RETRYABLE_ERRORS:
                if attempt == self.max_retries:
                    raise
                self.sleep(self.backoff_delay(attempt))
        raise AssertionError("unreachable")  # the loop returns or raises
