"""Model replies: their normalised shape (:class:`Reply`), how a litellm response, a
Responses API response or a chat completion's JSON becomes one, what it cost, and the
cap on a reply's size.

litellm is imported on first need (:func:`litellm_module`): its import takes seconds,
and the direct path (:mod:`usersim_utils.rollout.http_chat`) does not need it until
something fails.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

from .errors import ReplyError

#: Largest reply accepted, in bytes of the HTTP body on the direct path and in characters
#: of text and tool arguments on litellm's (``--max-reply-bytes``). Real replies are a few
#: kilobytes; a 50 MB one became 430 MB of output for one conversation.
DEFAULT_MAX_REPLY_BYTES = 2_000_000


@functools.cache
def litellm_module() -> ModuleType:
    """litellm, imported on first need: its import takes seconds, and calls of
    OpenAI-compatible servers (the direct path) do not need it until something fails."""
    import litellm

    # No help banners on errors; never download a Hugging Face tokenizer to count tokens.
    litellm.suppress_debug_info = True
    litellm.disable_hf_tokenizer_download = True
    return litellm


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


def reply_size(reply: Reply) -> int:
    """Characters of a reply's text and tool calls (what is stored of it)."""
    return len(reply.content) + sum(len(tc.name) + len(tc.arguments) for tc in reply.tool_calls)


def too_large(model: str, limit: int) -> ReplyError:
    """The one-line failure of a reply over ``limit`` (``--max-reply-bytes``)."""
    return ReplyError(f"{model}: the reply is larger than {limit:,} bytes (raise --max-reply-bytes to accept it)")
