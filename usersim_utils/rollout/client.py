"""Model calls through litellm: record/replay cache, retries with backoff, ledger.

Every call goes through :meth:`ModelClient.complete`. It looks the request up in the
:class:`~usersim_utils.rollout.cache.ResponseCache`; on a miss it calls litellm (or an
injected completion function), retrying rate limits, timeouts, connection errors and
5xx answers with exponential backoff, records the normalised reply and books tokens
and cost in the :class:`Ledger`. API keys are never parameters: litellm reads them
from the environment (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ...).

Retries happen here and nowhere else: litellm and the OpenAI client it drives are
told not to retry (``num_retries=0``, ``max_retries=0``), otherwise their retries
multiply ours (7 x 3 attempts of 600 s each against a hung server). One model call
gets at most ``max_retries + 1`` attempts, each bounded by ``request_timeout_s``,
and all of them together, backoff included, by ``retry_budget_s``.

Chat calls of ``openai/<name>`` models at an ``api_base`` (vLLM, llama.cpp, Ollama: the
OpenAI-compatible servers a simulator is usually served from) skip litellm's per-call
machinery (logging objects, model-info and price lookups: about 5 ms of CPU a call,
which serialised by the GIL was the client's bottleneck) and go through
:class:`OpenAICompatibleChat`: the standard library's ``http.client``, one kept-alive
connection per thread and endpoint (an ``httpx`` call costs about 1 ms of CPU more). It
sends what litellm sends for these models and raises litellm's exception types, so
retries, error lines and the cache are the same either way. When a proxy applies to the
endpoint (``HTTP_PROXY`` and the like), litellm makes the call: its client honours proxies.
"""

from __future__ import annotations

import functools
import http.client
import importlib.util
import json
import os
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from .cache import ResponseCache, request_key
from .errors import EndpointError, ReplyError


@functools.cache
def litellm_module() -> ModuleType:
    """litellm, imported on first need: its import takes seconds, and calls of
    OpenAI-compatible servers (the direct path) do not need it until something fails."""
    import litellm

    # No help banners on errors; never download a Hugging Face tokenizer to count tokens.
    litellm.suppress_debug_info = True
    litellm.disable_hf_tokenizer_download = True
    return litellm


def retryable_errors() -> tuple[type[BaseException], ...]:
    """Errors worth retrying (litellm's types): the request may succeed later."""
    litellm = litellm_module()
    return (
        litellm.RateLimitError,
        litellm.Timeout,
        litellm.APIConnectionError,
        litellm.ServiceUnavailableError,
        litellm.InternalServerError,
        litellm.BadGatewayError,
    )


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is one of :func:`retryable_errors` (never when litellm, which
    defines them, was not even imported)."""
    return "litellm" in sys.modules and isinstance(exc, retryable_errors())


CompletionFn = Callable[..., Any]

#: Seconds one attempt of a model call may take (``--request-timeout``).
DEFAULT_REQUEST_TIMEOUT_S = 600.0
#: Seconds one model call may take over all its attempts and waits (``--retry-budget``).
DEFAULT_RETRY_BUDGET_S = 1200.0
#: Retries after the first attempt (``--max-retries``).
DEFAULT_MAX_RETRIES = 6
#: Longest wait for a TCP connection when checking an endpoint before the run.
ENDPOINT_CHECK_TIMEOUT_S = 10.0


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
    def from_json(cls, data: Mapping[str, Any], *, cached: bool) -> Reply:
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


#: What litellm says (1.110) when a server's reply is not a chat completion -> our line.
_UNREADABLE_REPLY_MARKERS = (
    ("provider returned a response with no 'choices'", "the server returned no choices"),
    ("provider returned 'choices' that is not a list", "the server returned 'choices' that is not a list"),
    ("Empty or invalid response from LLM endpoint", "the server returned a reply that is not a chat completion"),
)


def unreadable_reply_reason(error_text: str) -> str | None:
    """Why litellm could not read a server's reply, from the text of the error it
    raised (sometimes with its own traceback inside), or ``None`` when the error is
    about something else."""
    for marker, reason in _UNREADABLE_REPLY_MARKERS:
        if marker in error_text:
            return reason
    if "Invalid response object" not in error_text:
        return None
    received = error_text.partition("received_args=")[2]
    if "'choices': []" in received:
        return "the server returned no choices"
    if "'message': None" in received or "'message'" not in received:
        return "the server returned a null message"
    return "the server returned a reply that is not a chat completion"


def normalise_response(response: Any, model: str) -> Reply:
    """A :class:`Reply` from a litellm ``ModelResponse`` (or an object shaped like one).
    Tool calls without an id get a deterministic one, so replays hash identically.
    :class:`ReplyError` when the server returned no choices or a null message."""
    choices = getattr(response, "choices", None)
    if not choices:
        raise ReplyError(f"{model}: the server returned no choices")
    message = getattr(choices[0], "message", None)
    if message is None:
        raise ReplyError(f"{model}: the server returned a null message")
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


def _field(obj: Any, name: str) -> Any:
    """``obj.name`` or ``obj[name]`` (litellm returns objects, tests may return dicts)."""
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def responses_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Chat-style parameters as Responses API ones: ``reasoning_effort`` becomes
    ``reasoning={"effort": ..., "summary": "auto"}`` (the summary is requested but never
    kept); ``temperature`` passes; the rest has no Responses equivalent here."""
    out: dict[str, Any] = {}
    if params.get("reasoning_effort"):
        out["reasoning"] = {"effort": params["reasoning_effort"], "summary": "auto"}
    if "temperature" in params:
        out["temperature"] = params["temperature"]
    return out


def normalise_responses_output(response: Any, model: str) -> Reply:
    """A :class:`Reply` from a Responses API response: the concatenated ``output_text``
    of its ``message`` items (reasoning items, summaries included, are left out).
    :class:`ReplyError` when the response has no output list."""
    output = _field(response, "output")
    if not isinstance(output, (list, tuple)):
        raise ReplyError(f"{model}: the server returned a response without output items")
    texts = [
        str(_field(part, "text") or "")
        for item in output
        if _field(item, "type") == "message"
        for part in (_field(item, "content") or ())
        if _field(part, "type") == "output_text"
    ]
    usage = _field(response, "usage")
    return Reply(
        content="".join(texts),
        prompt_tokens=int(_field(usage, "input_tokens") or 0) if usage is not None else 0,
        completion_tokens=int(_field(usage, "output_tokens") or 0) if usage is not None else 0,
        cost_usd=response_cost(response, model) if not isinstance(response, Mapping) else 0.0,
    )


def response_cost(response: Any, model: str) -> float:
    """USD cost from litellm's bundled price map; 0.0 for models it does not price
    (local models, private endpoints)."""
    try:
        return float(litellm_module().completion_cost(completion_response=response, model=model) or 0.0)
    except Exception:  # litellm raises several types for unknown models
        return 0.0


#: litellm's bundled price map, a file of its package (read without importing litellm).
PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"


@functools.cache
def _price_map() -> dict[str, Any]:
    spec = importlib.util.find_spec("litellm")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, PRICE_MAP_FILE)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                prices = json.load(fh)
            return prices if isinstance(prices, dict) else {}
    return {}


@functools.cache
def token_prices(model: str) -> tuple[float, float]:
    """USD per prompt token and per completion token of an ``openai/<name>`` model in
    litellm's bundled price map (under ``<name>``, as litellm looks OpenAI models up);
    ``(0.0, 0.0)`` for models it does not price (self-served models). Once per model."""
    prices = _price_map()
    info = prices.get(model) or prices.get(model.removeprefix("openai/"))
    if not isinstance(info, dict):
        return 0.0, 0.0
    return float(info.get("input_cost_per_token") or 0.0), float(info.get("output_cost_per_token") or 0.0)


def chat_json_reply(payload: Any, model: str) -> Reply:
    """A :class:`Reply` from the JSON body of a chat completion (the direct path);
    :class:`ReplyError` naming what is wrong when it is not one."""
    if not isinstance(payload, dict):
        raise ReplyError(f"{model}: the server returned a reply that is not a chat completion")
    choices = payload.get("choices")
    if choices is not None and not isinstance(choices, list):
        raise ReplyError(f"{model}: the server returned 'choices' that is not a list")
    if not choices:
        raise ReplyError(f"{model}: the server returned no choices")
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        raise ReplyError(f"{model}: the server returned a null message")
    calls = []
    for i, tc in enumerate(message.get("tool_calls") or ()):
        fn = tc.get("function") or {}
        args = fn.get("arguments")
        calls.append(
            ToolCall(
                id=str(tc.get("id") or f"call_{i}"),
                name=str(fn.get("name") or ""),
                arguments=args if isinstance(args, str) else json.dumps(args),
            )
        )
    usage = payload.get("usage") or {}
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    per_prompt, per_completion = token_prices(model)
    return Reply(
        content=str(message.get("content") or ""),
        tool_calls=tuple(calls),
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=prompt * per_prompt + completion * per_completion,
    )


def behind_proxy(api_base: str) -> bool:
    """Whether the environment routes requests to ``api_base`` through a proxy
    (``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` without a ``NO_PROXY`` match)."""
    parts = urlsplit(api_base)
    proxies = urllib.request.getproxies_environment()
    if parts.scheme not in proxies and "all" not in proxies:
        return False
    return not urllib.request.proxy_bypass_environment(parts.hostname or "", proxies)


def uses_direct_path(model: str, api_base: str | None, api: str) -> bool:
    """Whether a call goes through :class:`OpenAICompatibleChat` rather than litellm: chat
    calls of ``openai/`` models at an ``api_base``, unless a proxy applies to it (litellm's
    client honours proxies; the direct path does not)."""
    return api == "chat" and api_base is not None and model.startswith("openai/") and not behind_proxy(api_base)


def _status_error(status: int, message: str, model: str, url: str, body: bytes) -> Exception:
    """litellm's exception for an HTTP error status of an OpenAI-compatible server."""
    import httpx  # litellm's dependency; its errors want an httpx.Response

    litellm = litellm_module()
    response = httpx.Response(status, content=body, request=httpx.Request("POST", url))
    text = f"OpenAIException - {message}"
    common = {"message": text, "llm_provider": "openai", "model": model}
    by_status: dict[int, type[Exception]] = {
        400: litellm.BadRequestError,
        401: litellm.AuthenticationError,
        403: litellm.PermissionDeniedError,
        404: litellm.NotFoundError,
        429: litellm.RateLimitError,
        502: litellm.BadGatewayError,
        503: litellm.ServiceUnavailableError,
    }
    kind = by_status.get(status) or (litellm.InternalServerError if status >= 500 else None)
    if kind is None:
        return litellm.APIError(status_code=status, response=response, **common)
    return kind(response=response, **common)  # type: ignore[call-arg]


#: A connection the server closed while it was idle: the request never reached it.
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class OpenAICompatibleChat:
    """``POST <api_base>/chat/completions`` over one kept-alive ``http.client`` connection
    per thread and endpoint. Called like ``litellm.completion`` for an ``openai/<name>``
    model (the prefix is dropped, as litellm does) and returns the reply's JSON; errors
    are litellm's types (:func:`_status_error`, ``Timeout``, ``APIConnectionError``). A
    kept-alive connection the server has closed meanwhile is reopened once, as HTTP
    clients do; any other failure is left to the caller's retries."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _connection(self, api_base: str) -> tuple[http.client.HTTPConnection, str]:
        """This thread's connection to ``api_base`` (opened lazily) and the path prefix."""
        connections = self._local.__dict__.setdefault("connections", {})
        if api_base not in connections:
            parts = urlsplit(api_base)
            kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            connections[api_base] = (kind(parts.hostname or "", parts.port), parts.path.rstrip("/"))
        return connections[api_base]

    def __call__(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        api_base: str,
        timeout: float,
        api_key: str | None = None,
        **params: Any,
    ) -> Any:
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        body = json.dumps({"model": model.removeprefix("openai/"), "messages": messages, **params}).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        connection, prefix = self._connection(api_base)
        path = f"{prefix}/chat/completions"
        for reopened in (False, True):
            reused = connection.sock is not None
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                status, raw = response.status, response.read()
                break
            except TimeoutError as exc:
                connection.close()
                raise litellm_module().Timeout(
                    message=f"OpenAIException - {exc or 'request timed out'}", model=model, llm_provider="openai"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if reused and not reopened and isinstance(exc, _STALE_CONNECTION):
                    continue
                raise litellm_module().APIConnectionError(
                    message=f"OpenAIException - {exc or type(exc).__name__}", llm_provider="openai", model=model
                ) from None
        try:
            payload = json.loads(raw)
        except ValueError:  # also bad UTF-8
            payload = None
        if status >= 400:
            error = payload.get("error") if isinstance(payload, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            text = raw[:500].decode("utf-8", "replace")
            raise _status_error(status, str(message or text), model, api_base.rstrip("/") + "/chat/completions", raw)
        if payload is None:
            raise ReplyError(f"{model}: the server returned a reply that is not JSON")
        return payload


def parse_endpoint(url: str, name: str = "endpoint") -> tuple[str, int]:
    """``(host, port)`` of an ``http(s)://host[:port]/...`` URL (port 80 or 443 by
    default); ``ValueError`` naming ``name`` (e.g. ``--api-base``) otherwise."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port that is not a number, or out of range
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise ValueError(f"bad {name} {url!r}: expected http(s)://host[:port]/...")
    return parts.hostname, port


def check_endpoint(url: str, timeout_s: float = ENDPOINT_CHECK_TIMEOUT_S) -> None:
    """Open (and close) a TCP connection to the host and port of ``url``, so that a
    wrong ``--api-base`` fails at once in one line instead of after every
    conversation's retries. :class:`EndpointError` when it cannot be reached."""
    try:
        host, port = parse_endpoint(url)
        socket.create_connection((host, port), timeout=timeout_s).close()
    except ValueError as exc:
        raise EndpointError(str(exc)) from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise EndpointError(f"cannot reach {url} ({host} port {port}): {reason}; is the server running?") from None


class ModelClient:
    """Cached, retried, accounted model calls. Thread-safe.

    ``completion_fn`` defaults to ``litellm.completion``; tests inject a scripted one.
    ``sleep`` and ``clock`` are injectable so that tests of the backoff do not wait.
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
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        cancel_event: threading.Event | None = None,
        responses_fn: CompletionFn | None = None,
    ) -> None:
        self.cache = cache
        #: None: ``litellm.completion`` / ``litellm.responses``, imported on first use.
        self.completion_fn = completion_fn
        self.responses_fn = responses_fn
        #: OpenAI-compatible endpoints are called directly unless a completion function is injected.
        self.direct_chat = OpenAICompatibleChat() if completion_fn is None else None
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.request_timeout_s = request_timeout_s
        self.retry_budget_s = retry_budget_s
        self.sleep = sleep
        self.clock = clock
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
        for attempt in range(self.max_retries + 1):
            if self.cancel_event.is_set():
                raise RolloutCancelled("run cancelled")
            # no attempt may outlast the budget; the first always gets at least a moment
            kwargs["timeout"] = max(min(self.request_timeout_s, deadline - self.clock()), 0.001)
            try:
                if api == "responses":
                    response = call(model=model, input=[dict(m) for m in messages], **kwargs)
                else:
                    response = call(model=model, messages=[dict(m) for m in messages], **kwargs)
                return normalise(response, model)
            except Exception as exc:
                if not is_retryable(exc):
                    raise
                # litellm reports a reply it cannot read as a 500 carrying its own traceback
                if (reason := unreadable_reply_reason(str(exc))) is not None:
                    raise ReplyError(f"{model}: {reason}") from None
                delay = self.backoff_delay(attempt)
                if attempt == self.max_retries or self.clock() + delay >= deadline:
                    raise
                self.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises
