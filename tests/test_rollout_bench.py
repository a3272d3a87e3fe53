"""The concurrency benchmark (benchmarks/bench_rollout_concurrency.py): a reduced run
here; the issue-14 bound (8 workers >= 6x faster than 1 at 0.2 s per call) is in test_rollout_speed.py."""

from __future__ import annotations

import json

import pytest
from rollout_doubles import load_benchmark

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydantic")


def test_stub_plays_both_sides() -> None:
    bench = load_benchmark()
    greeting = [{"role": "system", "content": "rules"}, {"role": "user", "content": "Hi!"}]
    assert bench.stub_reply({"messages": greeting}, turns=2)["content"].startswith("I need help")
    stop = greeting + [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]
    assert bench.stub_reply({"messages": stop}, turns=2)["content"] == "###STOP###"
    agent = bench.stub_reply({"messages": greeting, "tools": []}, turns=2)
    assert agent["tool_calls"][0]["function"]["name"] == "think"
    survey = bench.stub_reply({"messages": [{"role": "user", "content": "fill out the survey below"}]}, turns=2)
    assert json.loads(survey["content"]) == bench.STUB_SURVEY


def test_concurrency_is_bounded_and_pays_on_a_small_run() -> None:
    """8 conversations at 0.05 s per call: one wave of 8 workers against 8 serial
    conversations. The stub's count of simultaneous calls proves the bound (exactly 1,
    then exactly 8); the time ratio is only a sanity floor (5-7x seen here; the issue-14
    bound at 0.2 s per call over 48 conversations is in test_rollout_speed.py)."""
    result = load_benchmark().run(n_tasks=8, delay_s=0.05, turns=2, max_seconds=60)
    print(json.dumps(result))
    assert result["peak_calls_concurrency_1"] == 1
    assert result["peak_calls_concurrency_8"] == 8
    assert result["speedup"] >= 2.5
