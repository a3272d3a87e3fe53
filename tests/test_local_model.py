"""The embedded model on this CPU: the set-up check (usersim_utils/rollout/model_check.py).

The model runs in a child process in every test here, so a build that faults on this CPU
(AMX kernels on a virtual machine that reports AMX) fails one test with its signal instead
of killing the whole run. The first test drives a prompt longer than llama.cpp's batch, so
the batched matrix-product kernels, where such faults show, run in ``make test``.
"""

from __future__ import annotations

import re
import signal
import stat
from pathlib import Path

import pytest

from usersim_utils.rollout import local_model, model_check


def test_a_prompt_longer_than_a_batch_completes_in_a_child_process() -> None:
    check = model_check.run_check()
    assert check.passed, check.line
    assert check.facts is not None
    assert check.facts["prompt_tokens"] >= model_check.PROMPT_TOKENS > local_model.BATCH_TOKENS
    assert 0 < check.facts["completion_tokens"] <= model_check.GENERATED_TOKENS
    assert check.line.startswith(f"embedded model: {check.facts['prompt_tokens']}-token prompt at ")


def _fake_python(tmp_path: Path, body: str) -> str:
    """A stand-in for the interpreter the check starts: a shell script running ``body``."""
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_a_child_killed_by_a_signal_is_one_line_naming_it_the_cpu_the_build_and_the_fix(tmp_path: Path) -> None:
    python = _fake_python(tmp_path, 'echo "llama.cpp build: CPU : SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 1 | '
                                    'AVX512 = 0 | LLAMAFILE = 1"\nkill -ILL $$')
    check = model_check.run_check(1200, python=python)
    assert not check.passed and check.facts is None
    assert "\n" not in check.line and check.line.startswith("error: the embedded model died with SIGILL")
    assert "1200-token prompt" in check.line and "this CPU reports" in check.line
    assert "built with [SSE3, AVX2, AMX_INT8, LLAMAFILE]" in check.line
    assert "make rebuild-llama" in check.line


def test_a_failing_child_gives_its_last_error_line(tmp_path: Path) -> None:
    python = _fake_python(tmp_path, 'echo "Traceback ..." >&2\necho "RuntimeError: no model" >&2\nexit 1')
    check = model_check.run_check(python=python)
    assert not check.passed
    assert check.line == "error: the embedded model failed on a 1024-token prompt (exit 1): RuntimeError: no model"


def test_a_child_that_hangs_is_stopped_at_the_time_limit(tmp_path: Path) -> None:
    check = model_check.run_check(timeout=0.5, python=_fake_python(tmp_path, "exec sleep 30"))
    assert not check.passed
    assert check.line == "error: the embedded model gave no completion of a 1024-token prompt in 0.5 s"


def test_cpu_features_and_signal_names(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx avx2 fma f16c avx512f amx_tile amx_int8\n")
    assert model_check.cpu_features(cpuinfo) == ["avx", "avx2", "fma", "f16c", "avx512f", "amx_tile", "amx_int8"]
    assert model_check.cpu_features(tmp_path / "absent") == []
    assert model_check.signal_name(-signal.SIGILL) == "SIGILL (Illegal instruction)"
    assert model_check.signal_name(-200) == "signal 200"


@pytest.mark.parametrize("argv", [["--prompt-tokens", "0"], ["--prompt-tokens", "x"]])
def test_bad_arguments_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        model_check.main(argv)
    assert exc.value.code == 2 and "error:" in capsys.readouterr().err


def test_thread_count_comes_from_the_environment_or_every_core(monkeypatch: pytest.MonkeyPatch) -> None:
    env = local_model.THREADS_ENV
    assert local_model.thread_count({env: "3"}) == 3
    assert local_model.thread_count({env: " 1 "}) == 1
    monkeypatch.setattr(local_model.os, "cpu_count", lambda: 6)
    assert local_model.thread_count({}) == 6 and local_model.thread_count({env: ""}) == 6
    for bad in ("0", "-2", "two", "1.5"):
        with pytest.raises(RuntimeError, match=rf"^{env}='{re.escape(bad)}' is not a positive whole number"):
            local_model.thread_count({env: bad})
