"""Chat calls of OpenAI-compatible servers without litellm (the direct path), and the
checks of an endpoint before a run.

Chat calls of ``openai/<name>`` models at an ``api_base`` (vLLM, llama.cpp, Ollama: the
OpenAI-compatible servers a simulator is usually served from) skip litellm's per-call
machinery (logging objects, model-info and price lookups: about 5 ms of CPU a call,
which serialised by the GIL was the client's bottleneck) and go through
:class:`OpenAICompatibleChat`: the standard library's ``http.client``, one kept-alive
connection per thread and endpoint (an ``httpx`` call costs about 1 ms of CPU more). It
sends what litellm sends for these models and raises litellm's exception types, so
retries, error lines and the cache are the same either way. When a proxy applies to the
endpoint (``HTTP_PROXY`` and the like), litellm makes the call: its client honours proxies.

Each attempt has a wall-clock deadline (its ``timeout``): the process's
:class:`~usersim_utils.rollout.deadline.Watchdog` shuts the socket down when it passes,
however slowly the server sends. A body longer than ``max_reply_bytes`` is not read on.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from .deadline import Watchdog
from .errors import EndpointError, ReplyError
from .replies import DEFAULT_MAX_REPLY_BYTES, litellm_module, too_large

#: Longest wait for a TCP connection when checking an endpoint before the run.
ENDPOINT_CHECK_TIMEOUT_S = 10.0
#: The deadlines of every direct call in this process.
WATCHDOG = Watchdog()


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


def _status_error(
    status: int, message: str, model: str, url: str, body: bytes, headers: list[tuple[str, str]] | None = None
) -> Exception:
    """litellm's exception for an HTTP error status of an OpenAI-compatible server; its
    ``response`` keeps the headers (``Retry-After``) for the retry policy."""
    import httpx  # litellm's dependency; its errors want an httpx.Response

    litellm = litellm_module()
    response = httpx.Response(status, content=body, headers=headers or [], request=httpx.Request("POST", url))
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


def _shut(connection: http.client.HTTPConnection) -> None:
    """Wake whatever read is blocked on ``connection`` (the watchdog's action)."""
    if connection.sock is not None:
        connection.sock.shutdown(socket.SHUT_RDWR)


class OpenAICompatibleChat:
    """``POST <api_base>/chat/completions`` over one kept-alive ``http.client`` connection
    per thread and endpoint. Called like ``litellm.completion`` for an ``openai/<name>``
    model (the prefix is dropped, as litellm does) and returns the reply's JSON; errors
    are litellm's types (:func:`_status_error`, ``Timeout``, ``APIConnectionError``), and
    :class:`ReplyError` for a body over ``max_reply_bytes``. ``timeout`` bounds the whole
    attempt, not each read. A kept-alive connection the server has closed meanwhile is
    reopened once, as HTTP clients do; any other failure is left to the caller's retries."""

    def __init__(self, max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES, watchdog: Watchdog = WATCHDOG) -> None:
        self._local = threading.local()
        self.max_reply_bytes = max_reply_bytes
        self.watchdog = watchdog

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
        body = json.dumps(
            {"model": model.removeprefix("openai/"), "messages": messages, **params}, allow_nan=False
        ).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        connection, prefix = self._connection(api_base)
        path = f"{prefix}/chat/completions"
        ticket = self.watchdog.arm(time.monotonic() + timeout, lambda: _shut(connection))
        try:
            status, raw, reply_headers = self._exchange(connection, path, body, headers, model, timeout)
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            if not self.watchdog.disarm(ticket):  # the deadline passed: that is why it failed
                raise _timeout(model, f"no complete reply within {timeout:g} s") from None
            if isinstance(exc, TimeoutError):
                raise _timeout(model, str(exc) or "request timed out") from None
            raise litellm_module().APIConnectionError(
                message=f"OpenAIException - {exc or type(exc).__name__}", llm_provider="openai", model=model
            ) from None
        except BaseException:
            self.watchdog.disarm(ticket)
            connection.close()
            raise
        if not self.watchdog.disarm(ticket):  # the socket was shut at the deadline: what was read is cut short
            connection.close()
            raise _timeout(model, f"no complete reply within {timeout:g} s")
        try:
            payload = json.loads(raw)
        except ValueError:  # also bad UTF-8
            payload = None
        if status >= 400:
            error = payload.get("error") if isinstance(payload, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            text = raw[:500].decode("utf-8", "replace")
            url = api_base.rstrip("/") + "/chat/completions"
            raise _status_error(status, str(message or text), model, url, raw, reply_headers)
        if payload is None:
            raise ReplyError(f"{model}: the server returned a reply that is not JSON")
        return payload

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        path: str,
        body: bytes,
        headers: dict[str, str],
        model: str,
        timeout: float,
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        """One request and its whole reply: ``(status, body, headers)``; a stale kept-alive
        connection is reopened once. :class:`ReplyError` for a body over the cap."""
        for reopened in (False, True):
            reused = connection.sock is not None
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
            except _STALE_CONNECTION:
                connection.close()
                if reused and not reopened:
                    continue
                raise
            length = response.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > self.max_reply_bytes:
                connection.close()
                raise too_large(model, self.max_reply_bytes)
            raw = response.read(self.max_reply_bytes + 1)
            if len(raw) > self.max_reply_bytes:
                connection.close()
                raise too_large(model, self.max_reply_bytes)
            if length is not None and length.isdigit() and len(raw) < int(length):
                raise http.client.IncompleteRead(raw, int(length) - len(raw))
            return response.status, raw, response.getheaders()
        raise AssertionError("unreachable")  # the loop returns or raises


def _timeout(model: str, why: str) -> Exception:
    """litellm's ``Timeout`` (retried) for an attempt that outlasted its deadline."""
    return litellm_module().Timeout(message=f"OpenAIException - {why}", model=model, llm_provider="openai")


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
