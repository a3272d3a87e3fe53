"""A rollout client that keeps up with its servers: the direct path to OpenAI-compatible
servers, the record-by-record database comparison, a start-up without litellm, no finished
conversation lost to kill -9, and (slow) the throughput benchmark's bounds."""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from usersim_utils import paths, taubench
from usersim_utils.rollout import client as client_mod
from usersim_utils.rollout import http_chat, replies, runner
from usersim_utils.rollout.errors import EndpointError

BENCH_DIR = paths.REPO_ROOT / "benchmarks"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydantic")


def load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def child_env() -> dict[str, str]:
    return dict(os.environ, LITELLM_OFFLINE_MODE="true", HF_HUB_OFFLINE="1")


# --- the reward's database comparison ----------------------------------------------------


def test_database_comparison_record_by_record_keeps_tau_bench_equality() -> None:
    gold_db = {"users": {"a": {"n": 1, "tags": ["x", "y"]}, "b": {"n": 2}}, "log": [1, 2], "version": 3}
    gold = taubench.GoldState(gold_db)
    assert gold.matches(json.loads(json.dumps(gold_db)))
    assert gold.matches({"version": 3, "log": [1, 2], "users": {"b": {"n": 2}, "a": {"tags": ["x", "y"], "n": 1}}})
    assert not gold.matches({**gold_db, "users": {"a": {"n": 1, "tags": ["y", "x"]}, "b": {"n": 2}}})  # list order
    assert not gold.matches({**gold_db, "users": {"a": {"n": 1, "tags": ["x", "y"]}, "b": {"n": 2.0}}})  # 2 vs 2.0
    assert not gold.matches({**gold_db, "log": [1, 2.0]})  # a table that is a list
    assert not gold.matches({**gold_db, "version": "3"})  # a scalar table
    assert not gold.matches({**gold_db, "users": {"a": gold_db["users"]["a"]}})  # a record missing
    assert not gold.matches({k: v for k, v in gold_db.items() if k != "log"})  # a table missing


def test_gold_state_equals_a_fresh_replay_of_the_gold_actions() -> None:
    """A conversation that replays the gold actions matches; one action fewer does not."""
    domain, task = taubench.get_task("retail_5")
    actions = [a for a in task.actions if a.name != taubench.RESPOND_ACTION]
    played, partial = taubench.TaskEnv("retail_5"), taubench.TaskEnv("retail_5")
    for i, action in enumerate(actions):
        played.call_tool(action.name, action.kwargs)
        if i < len(actions) - 1:
            partial.call_tool(action.name, action.kwargs)
    assert taubench.gold_state("retail_5").matches(played.db)
    assert not taubench.gold_state("retail_5").matches(partial.db)


def test_copy_on_lookup_tables_are_independent_and_track_what_they_may_change() -> None:
    domain = taubench.load_domain("retail")
    first, second = domain.fresh_db(), domain.fresh_db()
    order_id = next(iter(first["orders"]))
    first["orders"][order_id]["status"] = "cancelled"
    assert second["orders"][order_id]["status"] != "cancelled"
    assert domain.pristine_db["orders"][order_id]["status"] != "cancelled"
    assert first["orders"].changed == {order_id} and not second["users"].changed
    users = first["users"]
    some, other, third = list(users)[:3]
    users.pop(some)
    users.setdefault("new_user", {"name": "x"})
    users.update({other: {"name": "y"}})
    assert users.changed == {some, "new_user", other} and some not in users
    assert users.get(third) is users[third] and third in users.changed
    assert json.loads(json.dumps(first["orders"]))[order_id]["status"] == "cancelled"


def test_matching_compares_what_either_side_changed() -> None:
    gold = taubench.gold_state("retail_5")  # the gold actions change some orders or users
    db = taubench.load_domain("retail").fresh_db()
    assert not gold.matches(db)  # nothing done: the gold changes are missing
    replay = taubench.TaskEnv("retail_5")
    for action in replay.task.actions:
        replay.call_tool(action.name, action.kwargs)
    untouched = next(k for k in replay.db["products"] if k not in replay.db["products"].changed)
    assert gold.matches(replay.db)
    replay.db["products"][untouched]  # looked up, not changed: still equal
    assert gold.matches(replay.db)
    replay.db["products"][untouched]["name"] = "changed"  # a change the gold actions did not make
    assert not gold.matches(replay.db)
    assert not gold.matches({**replay.db, "extra": {}})


def test_no_tool_changes_the_shared_pristine_records() -> None:
    """Every task's gold actions, and every read-only search, leave the pristine records
    (shared by all conversations) as they were loaded."""
    for name in ("retail", "airline"):
        domain = taubench.load_domain(name)
        for task in domain.tasks:
            db = domain.fresh_db()
            for action in task.actions:
                taubench.invoke_tool(domain, db, action.name, action.kwargs)
        db = domain.fresh_db()
        user = next(iter(domain.pristine_db["users"].values()))
        name_zip = {**user.get("name", {}), "zip": user.get("address", {}).get("zip")}
        searches = {
            "retail": [("find_user_id_by_email", {"email": user.get("email", "")}),
                       ("find_user_id_by_name_zip", name_zip),
                       ("list_all_product_types", {})],
            "airline": [("search_direct_flight", {"origin": "JFK", "destination": "SEA", "date": "2024-05-20"}),
                        ("search_onestop_flight", {"origin": "JFK", "destination": "SEA", "date": "2024-05-20"})],
        }  # fmt: skip
        for tool, kwargs in searches[name]:
            assert not taubench.invoke_tool(domain, db, tool, kwargs).startswith("Error"), tool
        for table, records in domain.pristine_db.items():
            stored = domain.pristine_records[table]
            assert records.keys() == stored.keys()
            canonical = taubench.canonical_state
            assert all(canonical(r) == canonical(marshal.loads(stored[k])) for k, r in records.items()), (name, table)


# --- the direct path ------------------------------------------------------------------------


def test_direct_path_sends_what_litellm_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    """openai/<name> at an api_base: the model without its prefix, vLLM's conventional key,
    the parameters as given; the reply, its tool calls and usage normalised."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    seen: list[tuple[dict[str, Any], dict[str, str]]] = []

    def record(n: int, body: Any, headers: Any) -> None:
        seen.append((body, dict(headers)))

    bench = load("bench_rollout_concurrency")
    with bench.StubServer(0.0, 2, 10, 60, respond=record) as stub:
        model = client_mod.ModelClient(None, max_retries=0)
        tools = [{"type": "function", "function": {"name": "think", "parameters": {"type": "object"}}}]
        reply = model.complete(
            "agent", "openai/stub-agent", [{"role": "user", "content": "hi"}], api_base=stub.url,
            tools=tools, temperature=0.3, tool_choice=None,
        )  # fmt: skip
    [(body, headers)] = seen
    assert body["model"] == "stub-agent" and body["temperature"] == 0.3 and body["tools"] == tools
    assert "tool_choice" not in body and body["messages"] == [{"role": "user", "content": "hi"}]
    assert headers["Authorization"] == "Bearer EMPTY"
    assert reply.tool_calls[0].name == "think" and reply.prompt_tokens == 100 and reply.completion_tokens == 10
    assert reply.cost_usd == 0.0  # a self-served model has no price


def test_direct_path_reopens_a_kept_alive_connection_the_server_closed() -> None:
    """A server that closes each connection after one reply (without saying so): the next
    call on the thread's kept-alive connection is sent again on a new one, not failed."""
    reply = json.dumps({"choices": [{"message": {"content": "ok"}}], "usage": {}}).encode()
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            accepted.append(1)
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                length = int(
                    next(
                        v
                        for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
                        if k.lower() == b"content-length"
                    )
                )
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(reply), reply)
                )
                time.sleep(0.05)  # closed after the reply, while the client keeps the connection

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    chat = http_chat.OpenAICompatibleChat()
    base = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    for _ in range(2):
        payload = chat(model="openai/m", messages=[{"role": "user", "content": "hi"}], api_base=base, timeout=5)
        assert payload["choices"][0]["message"]["content"] == "ok"
        time.sleep(0.2)
    server.join(5)
    listener.close()
    assert len(accepted) == 2


def test_a_proxy_in_the_environment_sends_calls_through_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    """The direct path does not speak to proxies; litellm's client does, so it makes those calls,
    and no direct connection is tried before the run (only the proxy may reach the endpoint)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    base = "http://10.1.2.3:8000/v1"
    assert http_chat.uses_direct_path("openai/m", base, "chat")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert not http_chat.uses_direct_path("openai/m", base, "chat")
    assert http_chat.uses_direct_path("openai/m", "https://10.1.2.3/v1", "chat")  # no HTTPS proxy set
    unreachable = runner.RolloutConfig(simulator="openai/m", agent="openai/m", tasks=("retail_0",),
                                       api_base="http://127.0.0.1:9/v1").protocol_settings()  # fmt: skip
    runner.check_endpoints(unreachable, 1.0)  # only the proxy may reach it: no direct check
    monkeypatch.setenv("NO_PROXY", "10.1.2.3,127.0.0.1")
    assert http_chat.uses_direct_path("openai/m", base, "chat")
    with pytest.raises(EndpointError):
        runner.check_endpoints(unreachable, 1.0)


def test_direct_path_prices_like_litellm() -> None:
    import litellm

    info = litellm.get_model_info("openai/gpt-4o")
    assert replies.token_prices("openai/gpt-4o") == (info["input_cost_per_token"], info["output_cost_per_token"])
    assert replies.token_prices("openai/my-vllm-model") == (0.0, 0.0)


def test_start_up_imports_neither_litellm_nor_tau_trait_environments() -> None:
    """The command, the runner and the task environments load without litellm (seconds)."""
    code = (
        "import sys, usersim_utils.rollout.__main__, usersim_utils.rollout.runner, usersim_utils.taubench as e;"
        "e.load_domain('retail'); print('litellm' in sys.modules, 'tau_trait.envs.base' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), check=True)
    assert out.stdout.split() == ["False", "False"]


# --- kill -9 ----------------------------------------------------------------------------------


def test_kill_9_mid_run_loses_no_finished_conversation(tmp_path: Path) -> None:
    """SIGKILL while 4 conversations are in flight: every conversation file written is
    whole, and the same command keeps each of them (reused, not played again)."""
    bench = load("bench_rollout_concurrency")
    argv = [
        sys.executable, "-m", "usersim_utils.rollout", "--simulator", "openai/stub-user", "--agent",
        "openai/stub-agent", "--domains", "retail:0-15", "--max-user-turns", "2", "--concurrency", "4",
        "--out", str(tmp_path), "--no-progress", "--max-retries", "0",
    ]  # fmt: skip
    with bench.StubServer(0.05, 2, 10_000, 300) as stub:
        argv += ["--api-base", stub.url]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env())
        try:
            deadline = time.monotonic() + 120
            while len(list(tmp_path.glob(".work/*/*/*.json"))) < 4 and time.monotonic() < deadline:
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            proc.kill()
        finished = sorted(tmp_path.glob(".work/*/*/*__run1.json"))
        assert 4 <= len(finished) < 16, len(finished)
        records = [json.loads(p.read_text()) for p in finished]  # whole files, never partial
        assert all(r["task_key"] == p.name.split("__")[0] for r, p in zip(records, finished))
        rerun = subprocess.run(argv, capture_output=True, text=True, env=child_env(), timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    ledger = json.loads((tmp_path / "ledger_openai-stub-user.json").read_text())
    assert ledger["reused_conversations"] == len(finished) and ledger["conversations"] == 16
    results = json.loads((tmp_path / "eval_results_openai-stub-user.json").read_text())
    for record in records:
        assert results[record["task_key"]]["conversation"] == record["conversation"]


# --- the throughput benchmark's bounds ---------------------------------------------------------
# Time bounds depend on the machine and on what else runs on it (efficiency at concurrency 32
# measured 0.35-0.64 on the same 2-core machine): `make bench` checks them. The suite keeps what
# holds on any machine: the calls made, the concurrency reached, the memory used.


@pytest.fixture(scope="module")
def throughput() -> Any:
    return load("bench_rollout_throughput")


@pytest.mark.bench
def test_start_up_is_short_and_a_conversation_costs_under_30_ms_of_client_cpu(throughput: Any) -> None:
    """Launch to first call: 5.9 s before (litellm imported twice over), 0.4-1.4 s now.
    Client CPU per conversation (8 calls, the model's time excluded): 174 ms before,
    6-9 ms now (no litellm per call, databases copied on lookup, http.client)."""
    result = throughput.measure_client_cpu()
    print(json.dumps(result))
    assert result["startup_s"] < 3.0
    assert 0 < result["client_ms_per_conversation"] < 30.0


@pytest.mark.bench
def test_concurrency_32_spends_over_a_third_of_its_time_waiting(throughput: Any) -> None:
    """330 conversations at 0.05 s per call: efficiency 0.06 before, 0.35-0.64 now
    (0.25 while the rest of the suite ran beside it)."""
    result = throughput.measure_efficiency()
    print(json.dumps(result))
    assert result["calls_32"] == 330 * 8
    assert result["efficiency_32"] >= 0.35


@pytest.mark.slow
def test_concurrency_64_stays_under_2_gb(throughput: Any) -> None:
    """The command's own peak (VmHWM, which starts afresh at exec): 124-155 MB measured.
    ``ru_maxrss`` read 6.2 GB here inside the suite, the test process's memory copied at fork."""
    result = throughput.measure_memory()
    print(json.dumps(result))
    assert result["peak_calls_concurrency_64"] == 64
    assert result["peak_rss_mb_64"] < 2048


@pytest.mark.bench
def test_concurrency_8_is_6x_faster_start_up_included(throughput: Any) -> None:
    """48 conversations at 0.2 s per call, the real command from launch to exit. A serial
    run waits at least calls x 0.2 s (77 s), so that over this run's wall time is a floor
    of the speed-up: asserting the floor checks the bound without the serial run
    (``make bench`` runs it: 7.2x measured; 2.9-3.3x before)."""
    result = throughput.measure_speedup(serial=False)
    print(json.dumps(result))
    assert result["peak_calls_concurrency_8"] == 8
    assert result["speedup_8_floor"] >= 6.0
