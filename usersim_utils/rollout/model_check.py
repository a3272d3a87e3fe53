"""Can this machine run the embedded model? One completion of a long prompt, in a child process.

``make setup`` ends with ``python -m usersim_utils.rollout.model_check``. The check runs
the embedded model (``local_model``, loaded as every rollout loads it) on a prompt of
:data:`PROMPT_TOKENS` tokens, more than llama.cpp's batch of
:data:`~usersim_utils.rollout.local_model.BATCH_TOKENS`, so the batched matrix-product
kernels run: they are where a build for the wrong CPU faults (AMX kernels on a virtual
machine that reports AMX but faults on its instructions, a ``-march=native`` build moved
to an older CPU). A fault kills the process that runs them, so the completion runs in a
child process and the parent reports its death in one line: the signal, the CPU features
this machine reports, what llama.cpp was built with, and the fix. It exits 0 when the
completion finished, 1 when the model failed or died, and 2 on a usage error.

``python -m usersim_utils.rollout.model_check --child`` is the child: it prints the build's
features, then one JSON line with the prompt size, the tokens generated and the speed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Prompt length of the check: twice llama.cpp's batch, so at least two batched evaluations.
PROMPT_TOKENS = 1024
#: Tokens generated after the prompt (the speed figure's sample).
GENERATED_TOKENS = 64
#: The child's time limit (a loaded 2-core machine needs about 10 s).
TIMEOUT_S = 300.0
#: The CPU features that decide which llama.cpp kernels can run here.
CPU_FEATURES = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_fp16", "avx512_vnni",
                "amx_tile", "amx_int8", "amx_bf16")
#: What to do when the model dies: the Makefile's portable build, without pip's wheel cache.
FIX = ("rebuild llama-cpp-python portably with `make rebuild-llama` (no -march=native, no AMX; "
       "README, \"The embedded model\")")
#: This module, as the child is started (``__name__`` is ``__main__`` when it runs as a script).
MODULE = "usersim_utils.rollout.model_check"
_BUILD_PREFIX = "llama.cpp build: "
_RESULT_PREFIX = "result: "
_FILLER = ("The customer wants to exchange the blue kettle from order #W{n:07d} for the red one, "
           "keep the refund on the original card, and hear back before Friday. ")


def cpu_features(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The features of :data:`CPU_FEATURES` this CPU reports (Linux ``/proc/cpuinfo``;
    empty where that file is absent)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [feature for feature in CPU_FEATURES if feature in flags]


def signal_name(returncode: int) -> str:
    """``SIGILL (Illegal instruction)`` for a child killed by signal 4 (``returncode`` -4)."""
    number = -returncode
    try:
        return f"{signal.Signals(number).name} ({signal.strsignal(number)})"
    except ValueError:
        return f"signal {number}"


def _long_prompt(llama: Any, n_tokens: int) -> list[int]:
    """ChatML tokens of a user message of filler sentences, at least ``n_tokens`` long."""
    from .local_model import render_chatml

    sentences: list[str] = []
    while True:
        sentences.append(_FILLER.format(n=len(sentences)))
        text = render_chatml([{"role": "user", "content": "".join(sentences) + "Summarise the request."}], None)
        tokens = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if len(tokens) >= n_tokens:
            return tokens


def child(n_tokens: int = PROMPT_TOKENS, max_tokens: int = GENERATED_TOKENS) -> dict[str, Any]:
    """Load the embedded model as rollouts do and complete one long prompt; prints the
    build's features first (so that they are known even if the completion kills the process).

    The prompt is evaluated first (a one-token completion), then the reply is generated
    from the evaluated prompt (llama.cpp keeps it), so the two speeds are timed apart.
    Returns ``{"prompt_tokens", "prompt_tokens_per_s", "completion_tokens", "tokens_per_s"}``.
    """
    import llama_cpp

    from .local_model import ENGINE

    print(_BUILD_PREFIX + llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(), flush=True)
    with ENGINE.lock:
        llama = ENGINE.llama()
        tokens = _long_prompt(llama, n_tokens)
        started = time.perf_counter()
        llama.create_completion(prompt=tokens, max_tokens=1, temperature=0.0, seed=0)
        prompt_s = time.perf_counter() - started
        started = time.perf_counter()
        out = llama.create_completion(prompt=tokens, max_tokens=max_tokens, temperature=0.0, seed=0)
        generation_s = time.perf_counter() - started
    generated = int(out["usage"]["completion_tokens"])
    return {"prompt_tokens": len(tokens), "prompt_tokens_per_s": round(len(tokens) / prompt_s, 1),
            "completion_tokens": generated, "tokens_per_s": round(generated / generation_s, 1)}


@dataclass(frozen=True)
class CheckResult:
    """What :func:`run_check` found: ``passed``, its one ``line``, and the child's ``facts``
    (prompt and completion tokens, seconds, tokens per second) when it finished."""

    passed: bool
    line: str
    facts: dict[str, Any] | None = None


def run_check(n_tokens: int = PROMPT_TOKENS, timeout: float = TIMEOUT_S, *,
              python: str = sys.executable) -> CheckResult:
    """Run :func:`child` in a child process (``python -m`` this module). When it died, the line
    names the signal, the CPU's features, the build's and the fix; when it failed, its last error line."""
    argv = [python, "-m", MODULE, "--child", "--prompt-tokens", str(n_tokens)]
    env = {**os.environ, "PYTHONFAULTHANDLER": ""}  # a fault is reported here, in one line
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return CheckResult(False, f"error: the embedded model gave no completion of a {n_tokens}-token prompt "
                                  f"in {timeout:g} s")
    lines = done.stdout.splitlines()
    build = next((line.removeprefix(_BUILD_PREFIX) for line in lines if line.startswith(_BUILD_PREFIX)), "unknown")
    result = next((line.removeprefix(_RESULT_PREFIX) for line in lines if line.startswith(_RESULT_PREFIX)), None)
    if done.returncode == 0 and result is not None:
        facts = json.loads(result)
        return CheckResult(True, f"embedded model: {facts['prompt_tokens']}-token prompt at "
                                 f"{facts['prompt_tokens_per_s']} tokens/s, then {facts['completion_tokens']} "
                                 f"tokens at {facts['tokens_per_s']} tokens/s", facts)
    features = ", ".join(cpu_features()) or "none of " + ", ".join(CPU_FEATURES)
    if done.returncode < 0:
        return CheckResult(False, f"error: the embedded model died with {signal_name(done.returncode)} on a "
                                  f"{n_tokens}-token prompt; this CPU reports {features}; llama.cpp was built "
                                  f"with [{_compact(build)}]; {FIX}")
    last = (done.stderr.strip().splitlines() or ["no message"])[-1]
    return CheckResult(False, f"error: the embedded model failed on a {n_tokens}-token prompt "
                              f"(exit {done.returncode}): {last}")


def _compact(build: str) -> str:
    """The features a llama.cpp build turned on (``AVX2 = 1 | ...`` -> ``AVX2, ...``)."""
    on = [part.split("=")[0].strip() for part in build.replace("CPU :", "|").split("|") if part.strip().endswith("= 1")]
    return ", ".join(on) or build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n")[0])
    parser.add_argument("--prompt-tokens", type=int, default=PROMPT_TOKENS,
                        help=f"prompt length, in tokens (default {PROMPT_TOKENS}; past llama.cpp's batch of 512 "
                             "tokens the batched kernels run)")
    parser.add_argument("--child", action="store_true", help="run the completion in this process (the check's child)")
    args = parser.parse_args(argv)
    if args.prompt_tokens < 1:
        parser.error("--prompt-tokens must be a positive number")
    if args.child:
        print(_RESULT_PREFIX + json.dumps(child(args.prompt_tokens), allow_nan=False), flush=True)
        return 0
    check = run_check(args.prompt_tokens)
    print(check.line, file=sys.stdout if check.passed else sys.stderr)
    return 0 if check.passed else 1


if __name__ == "__main__":
    sys.exit(main())
