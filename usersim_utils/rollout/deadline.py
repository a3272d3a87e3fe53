"""Wall-clock deadlines for one attempt of a model call.

A socket timeout bounds each read, not the call: a server that sends its headers and
then one byte every half second never trips it (a run was still going after 100 s with
``--request-timeout 3``). Two ways to end an attempt on time:

* :class:`Watchdog`: one thread for the whole process that runs an action (shutting a
  socket down, which wakes the blocked read) when an attempt's deadline passes. The
  direct path (:mod:`usersim_utils.rollout.http_chat`) owns its sockets and uses it.
* :func:`call_within`: litellm's path owns no socket we can reach, so the call runs on a
  helper thread and the caller stops waiting at the deadline. The abandoned call ends
  when its server closes the connection or its own read timeout fires; nothing it
  returns late is used.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class DeadlinePassed(Exception):
    """The attempt outlasted its deadline (:func:`call_within`)."""


class Watchdog:
    """Runs ``action()`` at a deadline unless disarmed first; one daemon thread serves
    every armed deadline (a timer thread per call would cost more than the call)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._wake = threading.Condition()
        self._armed: dict[int, tuple[float, Callable[[], None]]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        #: The deadline the thread sleeps until (inf: none): only an earlier one wakes it,
        #: so that arming, once a call, costs no thread switch.
        self._next = float("inf")

    def arm(self, deadline: float, action: Callable[[], None]) -> int:
        """Run ``action`` at ``deadline`` (on the ``clock``); returns the ticket for :meth:`disarm`."""
        ticket = next(self._ids)
        with self._wake:
            self._armed[ticket] = (deadline, action)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rollout-watchdog", daemon=True)
                self._thread.start()
            if deadline < self._next:
                self._wake.notify()
        return ticket

    def disarm(self, ticket: int) -> bool:
        """Cancel a deadline; ``False`` when its action has already run (the attempt timed out)."""
        with self._wake:
            return self._armed.pop(ticket, None) is not None

    def _run(self) -> None:
        with self._wake:
            while True:
                if not self._armed:
                    self._next = float("inf")
                    self._wake.wait()
                    continue
                ticket, (deadline, action) = min(self._armed.items(), key=lambda item: item[1][0])
                wait = deadline - self._clock()
                if wait > 0:
                    self._next = deadline  # a disarmed one wakes it early, harmlessly
                    self._wake.wait(wait)
                    continue
                del self._armed[ticket]
                try:
                    action()
                except Exception:  # an action on a socket already closed: nothing left to stop
                    pass


def call_within(seconds: float, call: Callable[[], T]) -> T:
    """``call()`` on a daemon helper thread; its result or exception, or
    :class:`DeadlinePassed` once ``seconds`` have gone by (the call is then abandoned)."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller's thread, which decides
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="model-call", daemon=True).start()
    if not done.wait(max(seconds, 0.0)):
        raise DeadlinePassed(f"no complete reply within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
