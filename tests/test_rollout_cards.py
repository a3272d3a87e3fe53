"""Simulator cards, the dry run, personas and protocol comparability (only results of one
protocol are compared)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

from rollout_doubles import load_benchmark  # noqa: E402

from usersim_utils import (
    paths,  # noqa: E402
    taubench,  # noqa: E402
)
from usersim_utils.rollout import __main__ as cli  # noqa: E402
from usersim_utils.rollout import card, forecast, persona  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning:pydantic"), pytest.mark.usefixtures("loopback_only")]

TEMPLATE = "ZEBRA-TEMPLATE-7 You play a customer.\n{instruction}\nSay ###STOP### when done."


def write_card(folder: Path, url: str, extra: str = "") -> Path:
    (folder / "prompt.txt").write_text(TEMPLATE)
    path = folder / "sim.toml"
    path.write_text(
        f'name = "zebra"\n[simulator]\nmodel = "openai/stub-user"\napi_base = "{url}"\nprompt_file = "prompt.txt"\n'
        f'temperature = 0.5\n[agent]\nmodel = "openai/stub-agent"\napi_base = "{url}"\nharness = "function-calling"\n'
        f"[protocol]\nmax_user_turns = 3\n{extra}"
    )
    return path


def test_card_template_reaches_the_server_and_the_resolved_card_is_saved(tmp_path: Path, capsys: Any) -> None:
    bench = load_benchmark()
    with bench.StubServer(0.0, 2, 200, 60) as stub:
        seen: list[dict[str, Any]] = []
        stub.respond = lambda n, body, headers: seen.append(body)  # record, then answer normally
        path = write_card(tmp_path, stub.url)
        out = tmp_path / "out"
        argv = ["--card", str(path), "--domains", "retail:0", "--out", str(out), "--no-progress"]
        argv += ["--max-user-turns", "2"]
        assert cli.main(argv) == 0
    system = [b["messages"][0]["content"] for b in seen if "tools" not in b]
    instruction = taubench.get_task("retail_0")[1].instruction
    assert system and all(s == TEMPLATE.replace("{instruction}", instruction) for s in system)
    assert all(b.get("temperature") == 0.5 for b in seen if "tools" not in b)
    resolved = json.loads((out / "card_zebra.json").read_text())
    assert resolved["simulator"]["prompt_text"] == TEMPLATE
    assert resolved["simulator"]["prompt_sha256"] == card.sha256_text(TEMPLATE)
    assert resolved["protocol"]["max_user_turns"] == 2  # the flag beat the card's 3
    assert resolved["agent"]["harness"] == "function-calling" and resolved["protocol"]["tasks"] == "retail:0"
    assert {"litellm", "tau-trait", "python"} <= set(resolved["versions"])
    assert (out / "eval_results_zebra.json").is_file()


def test_dry_run_calls_nothing_and_writes_nothing(tmp_path: Path, capsys: Any) -> None:
    bench = load_benchmark()
    with bench.StubServer(0.0, 2, 200, 60) as stub:
        path = write_card(tmp_path, stub.url)
        out = tmp_path / "out"
        argv = ["--card", str(path), "--agent", "gpt-5.2", "--agent-api-base", "http://127.0.0.1:9/v1",
                "--domains", "all", "--runs", "3", "--out", str(out), "--dry-run"]
        assert cli.main(argv) == 0
        assert stub.requests == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "conversations: 495" in "\n".join(lines)
    m = re.fullmatch(r"estimated_calls=(\d+) estimated_tokens=(\d+) estimated_cost_usd=([\d.]+)-([\d.]+)", lines[-1])
    assert m and int(m[1]) > 495 and float(m[3]) <= float(m[4]) and float(m[4]) > 0  # gpt-5.2 is priced
    assert not out.exists()


def test_forecast_grows_with_turns_and_prices_offline() -> None:
    kw = dict(simulator="gpt-4o", agent="gpt-5.2", conversations=10, max_user_turns=80,
              simulator_prompt_chars=2000, agent_prompt_chars=30000, reasoning=True)
    short = forecast.forecast(**kw, user_turns=(2, 3, 4))
    long = forecast.forecast(**kw, user_turns=(5, 8, 14))
    assert short.calls == 10 * (3 + 1 + 3 * forecast.AGENT_ROUNDS_PER_TURN)
    assert long.tokens > short.tokens and long.cost_high_usd > long.cost_low_usd > 0
    capped = forecast.forecast(**{**kw, "max_user_turns": 3}, user_turns=(5, 8, 14))
    assert capped.user_turns == (3, 3, 3)
    assert forecast.forecast(**{**kw, "simulator": "local/x"}, user_turns=(1, 2, 3)).unpriced == ("local/x",)


def test_bad_card_is_one_line_naming_file_and_field(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n[agent]\nmodel = 5\n')
    assert cli.main(["--card", str(path), "--domains", "retail:0", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "agent.model" in err
    path.write_text('name = "x"\n[simulator]\nprompt_file = "p.txt"\n')
    (tmp_path / "p.txt").write_text("no slot here")
    assert cli.main(["--card", str(path), "--domains", "retail:0", "--dry-run"]) == 2
    assert "{instruction}" in capsys.readouterr().err


def test_shipped_cards_read_and_resolve() -> None:
    names = sorted(p.name for p in (paths.REPO_ROOT / "cards").glob("*.toml"))
    assert {"study-protocol.toml", "embedded.toml"} <= set(names)
    study = card.read_card(paths.REPO_ROOT / "cards" / "study-protocol.toml")
    assert study["agent.model"] == "gpt-5.2" and study["agent.harness"] == "study"
    example = card.read_card(paths.REPO_ROOT / "cards" / "persona-example.toml")
    assert example["simulator.prompt_text"].count("{instruction}") == 1 and example["persona.source"] == "human-study"


# --- comparability ------------------------------------------------------------------------


def resolved(agent: str = "gpt-5.2", harness: str = "study", turns: int = 80, tasks: str = "all") -> dict[str, Any]:
    return {
        "agent": {"model": agent, "harness": harness, "reasoning_effort": "low"},
        "protocol": {"max_user_turns": turns, "max_agent_rounds": 64, "tasks": tasks,
                     "survey_prompt_sha256": card.STUDY_PROTOCOL["survey_prompt_sha256"]},
    }


def test_two_runs_with_different_agents_warn() -> None:
    diffs = card.protocol_differences({"a": resolved(), "b": resolved(agent="gpt-4o")})
    assert diffs == ["agent_model: gpt-5.2 (a) vs gpt-4o (b)"]
    line = card.protocol_warning({"a": resolved(), "b": resolved(agent="gpt-4o", turns=10)})
    assert line is not None and line.count("\n") == 0 and "agent_model" in line and "max_user_turns" in line
    assert "--allow-mixed-protocols" in line


def test_published_files_count_as_the_study_protocol(tmp_path: Path) -> None:
    assert card.protocol_differences({"published": None, "new": resolved()}) == []
    assert card.protocol_label(None) == "study protocol (published): agent gpt-5.2 (study)"
    assert card.protocol_differences({"published": None, "fc": resolved(harness="function-calling")})
    (tmp_path / "eval_results_x.json").write_text("{}")
    assert card.load_card_for(tmp_path / "eval_results_x.json") is None
    (tmp_path / "card_x.json").write_text(json.dumps(resolved(agent="gpt-4o")))
    assert card.load_card_for(tmp_path / "eval_results_x.json")["agent"]["model"] == "gpt-4o"


# --- personas ---------------------------------------------------------------------------------


def test_persona_draws_are_seeded_numbers_only() -> None:
    people = [
        [{"role": "user", "content": "please help me with my order thank you"}, {"role": "assistant", "content": "ok"}],
        [{"role": "user", "content": "refund"}, {"role": "user", "content": "why is that?"}],
    ]
    pool = persona.styles_of(people)
    assert len(pool) == 2 and set(pool[0]) == set(persona.TARGETS)
    first = persona.draw(pool, 0, "retail_3", 1)
    assert first == persona.draw(pool, 0, "retail_3", 1)
    assert len({json.dumps(persona.draw(pool, s, "retail_3", 1), sort_keys=True) for s in range(20)}) == 2
    text = persona.render(first)
    assert "words per message" in text and "order" not in text and "refund" not in text
