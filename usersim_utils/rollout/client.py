"""Model calls: record/replay cache, retries, deadlines, ledger.

Every call goes through :meth:`ModelClient.complete`. It looks the request up in the
:class:`~usersim_utils.rollout.cache.ResponseCache`; on a miss it calls the model
(:mod:`~usersim_utils.rollout.http_chat` for OpenAI-compatible servers, litellm or an
injected completion function otherwise), retrying what :mod:`~usersim_utils.rollout.retry`
says may succeed later, records the normalised reply (:mod:`~usersim_utils.rollout.replies`)
and books tokens and cost in the :class:`Ledger`. API keys are never parameters: they
are read from the environment (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ...).

Retries happen here and nowhere else: litellm and the OpenAI client it drives are
told not to retry (``num_retries=0``, ``max_retries=0``), otherwise their retries
multiply ours (7 x 3 attempts of 600 s each against a hung server). One model call
gets at most ``max_retries + 1`` attempts, each ended by a wall-clock deadline of
``request_timeout_s`` (:mod:`~usersim_utils.rollout.deadline`: a server trickling its
body cannot stretch it), and all of them together, waits included, by ``retry_budget_s``.
A reply over ``max_reply_bytes`` fails its call with one line.
"""

from __future__ import annotations

import functools
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .cache import ResponseCache, request_key
from .deadline import DeadlinePassed, call_within
from .errors import ReplyError
from .http_chat import OpenAICompatibleChat, uses_direct_path
from .prompts import LOCAL_PREFIX
from .replies import (
    DEFAULT_MAX_REPLY_BYTES,
    Reply,
    chat_json_reply,
    litellm_module,
    normalise_response,
    normalise_responses_output,
    reply_size,
    responses_params,
    too_large,
    unreadable_reply_reason,
)
from .retry import is_retryable, retry_delay

CompletionFn = Callable[..., Any]

#: Seconds one attempt of a model call may take (``--request-timeout``).
DEFAULT_REQUEST_TIMEOUT_S = 600.0
#: Seconds one model call may take over all its attempts and waits (``--retry-budget``).
DEFAULT_RETRY_BUDGET_S = 1200.0
#: Retries after the first attempt (``--max-retries``).
DEFAULT_MAX_RETRIES = 6


class RolloutCancelled(Exception):
    """Raised instead of a model call once the run has been cancelled."""


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

    def absorb(self, snapshot: Mapping[str, Mapping[str, float]]) -> None:
        """Add another ledger's :meth:`to_json` (another process's calls) to this one."""
        with self._lock:
            for role, counters in snapshot.items():
                if role != "total":
                    usage = self.roles.setdefault(role, RoleUsage())
                    for name, value in counters.items():
                        setattr(usage, name, getattr(usage, name) + value)

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


class ModelClient:
    """Cached, retried, accounted model calls. Thread-safe.

    ``completion_fn`` defaults to ``litellm.completion``; tests inject a scripted one.
    ``sleep``, ``clock`` (monotonic), ``now_epoch`` (for ``Retry-After`` dates) and ``rng``
    (the jitter) are injectable so that tests of the waits neither wait nor draw at random.
    """

    def __init__(
        self,
        cache: ResponseCache | None,
        *,
        completion_fn: CompletionFn | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
        retry_budget_s: float = DEFAULT_RETRY_BUDGET_S,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now_epoch: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        cancel_event: threading.Event | None = None,
        responses_fn: CompletionFn | None = None,
    ) -> None:
        self.cache = cache
        #: None: ``litellm.completion`` / ``litellm.responses``, imported on first use.
        self.completion_fn = completion_fn
        self.responses_fn = responses_fn
        #: OpenAI-compatible endpoints are called directly unless a completion function is injected.
        self.direct_chat = OpenAICompatibleChat(max_reply_bytes) if completion_fn is None else None
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.request_timeout_s = request_timeout_s
        self.retry_budget_s = retry_budget_s
        self.max_reply_bytes = max_reply_bytes
        self.sleep = sleep
        self.clock = clock
        self.now_epoch = now_epoch
        self.rng = rng if rng is not None else random.Random()
        self.cancel_event = cancel_event or threading.Event()
        self.ledger = Ledger()

    def complete(
        self,
        role: str,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        api_base: str | None = None,
        tally: UsageTally | None = None,
        cache_tag: str | None = None,
        check: Callable[[Reply], object] | None = None,
        api: str = "chat",
        **params: Any,
    ) -> Reply:
        """One chat completion of ``model`` on ``messages`` with optional ``params``
        (``tools``, ``tool_choice``, ``temperature``, ``stop``, ``reasoning_effort``...),
        served from the cache when the same request was made before. ``tally``, when
        given, also counts the reply for its conversation; ``cache_tag`` (e.g. the run
        number) is part of the cache key only, so that repeated runs are fresh samples.

        ``check(reply)`` raises :class:`ReplyError` for a reply its caller cannot use
        (e.g. a survey it cannot parse). Such a reply is never recorded, and a recorded
        one that fails the check (from an older version) is discarded and asked for
        again, so that a rerun does not replay the same failure forever.

        ``api="responses"`` sends the request through the Responses API (``litellm.responses``):
        ``messages`` become its ``input``, ``reasoning_effort`` its ``reasoning`` (summary
        requested), and the reply is the text of the response's message items only."""
        params = {k: v for k, v in params.items() if v is not None}
        request = {"model": model, "api_base": api_base, "messages": messages, "params": params, "tag": cache_tag}
        if api != "chat":  # chat requests keep the keys they had before the Responses API
            request["api"] = api
        key = request_key(request)
        reply = self._replay(key, check)
        fresh = reply is None
        if reply is None:
            reply = self._call_with_retries(model, messages, api_base, params, api)
        self.ledger.book(role, reply)  # before anything can fail: a call made is a call paid
        if tally is not None:
            tally.add(role, reply)
        if fresh:
            if check is not None:
                check(reply)
            if self.cache is not None:
                self.cache.put(key, reply.to_json())
        return reply

    def _replay(self, key: str, check: Callable[[Reply], object] | None) -> Reply | None:
        """The recorded reply of ``key`` if there is a usable one, else ``None``."""
        if self.cache is None or (hit := self.cache.get(key)) is None:
            return None
        try:
            reply = Reply.from_json(hit, cached=True)
            if check is not None:
                check(reply)
        except (ReplyError, TypeError, ValueError):  # unusable or malformed: ask again
            self.cache.discard(key)
            return None
        return reply

    def _call_with_retries(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        api_base: str | None,
        params: dict[str, Any],
        api: str = "chat",
    ) -> Reply:
        # retries are ours alone: litellm's (num_retries) and the OpenAI client's (max_retries) are off
        if api == "responses":
            kwargs = responses_params(params)
            call, normalise = self.responses_fn or litellm_module().responses, normalise_responses_output
        elif self.direct_chat is not None and uses_direct_path(model, api_base, api):
            kwargs = dict(params)
            call, normalise = self.direct_chat, chat_json_reply
        else:
            kwargs = dict(params, drop_params=True, num_retries=0, max_retries=0)
            call, normalise = self.completion_fn or litellm_module().completion, normalise_response
        if api_base:
            kwargs["api_base"] = api_base
            # OpenAI-compatible servers (vLLM, llama.cpp, Ollama) usually need no key, but the
            # OpenAI client refuses to start without one: give it vLLM's conventional "EMPTY"
            # (not a secret) unless the user set OPENAI_API_KEY in the environment.
            if model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
                kwargs["api_key"] = "EMPTY"
        deadline = self.clock() + self.retry_budget_s
        # an in-process model (local/) owns no socket and must not run twice at once: no helper thread
        guarded = call is not self.direct_chat and not model.startswith(LOCAL_PREFIX)
        for attempt in range(self.max_retries + 1):
            if self.cancel_event.is_set():
                raise RolloutCancelled("run cancelled")
            # no attempt may outlast the budget; the first always gets at least a moment
            timeout = max(min(self.request_timeout_s, deadline - self.clock()), 0.001)
            # a fresh dict per attempt: an abandoned attempt's thread may still be reading its own
            attempt_kwargs = {**kwargs, "timeout": timeout, "input" if api == "responses" else "messages": [
                dict(m) for m in messages
            ]}
            try:
                if guarded:
                    response = self._call_within(timeout, model, functools.partial(call, model=model, **attempt_kwargs))
                else:
                    response = call(model=model, **attempt_kwargs)
                reply = normalise(response, model)
            except Exception as exc:
                if not is_retryable(exc):
                    raise
                # litellm reports a reply it cannot read as a 500 carrying its own traceback
                if (reason := unreadable_reply_reason(str(exc))) is not None:
                    raise ReplyError(f"{model}: {reason}") from None
                delay = retry_delay(
                    exc, attempt, base_s=self.backoff_base_s, max_s=self.backoff_max_s,
                    rng=self.rng, now_epoch=self.now_epoch(),
                )  # fmt: skip
                if attempt == self.max_retries or self.clock() + delay >= deadline:
                    raise
                self.sleep(delay)
                continue
            if reply_size(reply) > self.max_reply_bytes:
                raise too_large(model, self.max_reply_bytes)
            return reply
        raise AssertionError("unreachable")  # the loop returns or raises

    @staticmethod
    def _call_within(timeout: float, model: str, call: Callable[[], Any]) -> Any:
        """``call()`` ended at its deadline (:func:`~usersim_utils.rollout.deadline.call_within`):
        past it, litellm's ``Timeout``, retried like any other."""
        try:
            return call_within(timeout, call)
        except DeadlinePassed as exc:
            raise litellm_module().Timeout(message=str(exc), model=model, llm_provider="openai") from None
