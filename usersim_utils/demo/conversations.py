"""The demo study's tasks and conversations: a scenario per task, a plan of agent moves
and user acts, and the turns written from the phrase tables (:mod:`.phrases`) in the
study's markup, with one ``numpy.random.Generator`` (a seed fixes every byte)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .. import ids, schema, survey
from ..trajectories import function_markup
from .phrases import (
    AGENT_PHRASES,
    AGENT_THINK,
    CITIES,
    DATES,
    FIRST_NAMES,
    FREE_TEXT_QUESTIONS,
    INTENTS,
    LAST_NAMES,
    POLITE_ADDS,
    REGISTERS,
    RETAIL_ITEMS,
)
from .styles import EVENTS, HUMAN_STYLE, Style

#: The agent model named in the task header of every human session.
AGENT_MODEL = "gpt-5.2"
#: Share of retail tasks (the study has 115 retail and 50 airline tasks).
RETAIL_SHARE = 0.6


# --- Small helpers ---------------------------------------------------------------------
def pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, size=n))


def phrase_variants(table: Mapping[str, tuple[str, ...]], act: str, domain: str) -> tuple[str, ...]:
    """The variants of ``act``: the domain's own (``act@domain``) and the shared ones."""
    variants = table.get(f"{act}@{domain}", ()) + table.get(act, ())
    if not variants:
        raise KeyError(f"no phrases for {act!r} ({domain})")
    return variants


def call(name: str, **params: Any) -> str:
    return function_markup(name, params)


def tool(result: Any) -> str:
    return f"<|tool|>{json.dumps(result, sort_keys=True)}<|/tool|>"


# --- Tasks and their scenarios --------------------------------------------------------
def pick_tasks(rng: np.random.Generator, n_tasks: int, domains: Sequence[str] = ("retail", "airline")
                ) -> tuple[list[str], list[str]]:
    """``(human_tasks, extra_tasks)``: n_tasks each, disjoint, in tau-bench's test range; both
    domains (60 % retail) unless ``domains`` names one."""
    if len(domains) == 1:
        counts = [(domains[0], n_tasks)]
    else:
        n_retail = max(1, min(n_tasks - 1, round(RETAIL_SHARE * n_tasks)))
        counts = [("retail", n_retail), ("airline", n_tasks - n_retail)]
    human: list[str] = []
    extra: list[str] = []
    for domain, n in counts:
        chosen = rng.choice(ids.N_TASKS[domain], size=2 * n, replace=False)
        human += [f"{domain}_{i}" for i in sorted(int(i) for i in chosen[:n])]
        extra += [f"{domain}_{i}" for i in sorted(int(i) for i in chosen[n:])]
    return human, extra


def scenario(task: str, rng: np.random.Generator) -> dict[str, Any]:
    """The slots of one task: who the customer is, what they want, the ids involved,
    and ``p_success``, the chance that a typical human session succeeds."""
    domain, index = task.split("_")
    first, last = pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)
    intent = pick(rng, list(INTENTS[domain]))
    sc: dict[str, Any] = {
        "task": task, "domain": domain, "index": int(index), "intent": intent,
        "first": first.title(), "last": last.title(), "user_id": f"{first}_{last}_{digits(rng, 4)}",
        "email": f"{first}.{last}{digits(rng, 4)}@example.com", "zip": digits(rng, 5),
        "amount": int(rng.integers(20, 400)), "date": pick(rng, DATES),
        "p_success": float(np.clip(rng.beta(0.5, 0.5), 0.03, 0.97)),
    }
    if domain == "retail":
        sc["thing"], sc["item"] = "order", pick(rng, RETAIL_ITEMS)
        sc["target"], sc["other_target"] = f"#W{digits(rng, 7)}", f"#W{digits(rng, 7)}"
        kind = pick(rng, ("gift_card", "credit_card", "paypal"))
        sc["payment"] = f"{kind}_{digits(rng, 7)}"
        sc["payment_text"] = {"gift_card": "gift card", "credit_card": f"visa ending in {digits(rng, 4)}",
                              "paypal": "paypal account"}[kind]
    else:
        (origin, _), (dest, _) = (CITIES[i] for i in rng.choice(len(CITIES), size=2, replace=False))
        sc["thing"], sc["item"], sc["origin"], sc["dest"] = "reservation", f"{dest} flight", origin, dest
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
        sc["target"], sc["other_target"] = ("".join(pick(rng, alphabet) for _ in range(6)) for _ in range(2))
        kind = pick(rng, ("certificate", "credit_card"))
        sc["payment"] = f"{kind}_{digits(rng, 7)}"
        sc["payment_text"] = "travel certificate" if kind == "certificate" else f"card ending in {digits(rng, 4)}"
    sc["want"] = INTENTS[domain][intent][0].format_map(sc)
    return sc


def success_probability(p_human: float, shift: float) -> float:
    return 1.0 / (1.0 + math.exp(-(math.log(p_human / (1.0 - p_human)) + shift)))


# --- Conversations --------------------------------------------------------------------
def plan(sc: Mapping[str, Any], style: Style, success: bool, rng: np.random.Generator) -> list[tuple[str, str | None]]:
    """The dialogue as ``(agent move, user act)`` steps; the first agent move is the greeting."""
    on = {name: bool(rng.random() < style.events.get(name, 0.0)) for name in EVENTS}
    refused = bool(rng.random() < (0.1 if success else 0.5))
    plan: list[tuple[str, str | None]] = [("greeting", "open_full" if on["frontload"] else "open")]
    if on["piecemeal"] and sc["domain"] == "retail":
        plan += [("ask_identity", "name"), ("ask_zip", "zip")]
    else:
        plan.append(("ask_identity", "identify"))
    if on["pushback"]:
        plan.append(("reask_identity", "pushback"))
    if on["confuse"]:
        plan += [("found_account", "confuse"), ("answer_confuse", "target")]
    else:
        plan.append(("found_account", "target"))
    plan.append(("target_details", "hedge" if on["hedge"] else "certain" if on["certain"] else "details"))
    if on["clarify"]:
        plan.append(("jargon", "clarify"))
    if on["infoq"]:
        plan.append(("explain", "infoq"))
    if refused:
        plan.append(("refuse", "react"))
        if on["accuse"]:
            plan.append(("offer", "accuse"))
    if on["emotion"]:
        plan.append(("wait", "emotion"))
    if on["loop"]:  # a simulator stuck confirming (repeat_rate)
        plan += [("confirm_again", "loop")] * int(rng.integers(11, 14))
    plan += [("summarise", "pivot"), ("resummarise", "confirm")] if on["pivot"] else [("summarise", "confirm")]
    plan.append(("done_ok" if success or rng.random() < 0.4 else "done_fail", None if on["quiet_close"] else "close"))
    return plan


def agent_message(move: str, sc: Mapping[str, Any], rng: np.random.Generator) -> str:
    """An agent turn with the study's markup: reasoning summary, tool calls and results."""
    if move == "greeting":
        return schema.GREETING
    domain = sc["domain"]
    parts = [f"<|think|>{AGENT_THINK[move]}<|/think|>"] if move in AGENT_THINK else []
    if move == "found_account" and domain == "retail":
        parts += [call("find_user_id_by_email", email=sc["email"]), tool(sc["user_id"])]
    if move == "found_account":
        parts += [call("get_user_details", user_id=sc["user_id"]),
                  tool({"name": f"{sc['first']} {sc['last']}", "items": [sc["target"], sc["other_target"]]})]
    elif move == "target_details" and domain == "retail":
        parts += [call("get_order_details", order_id=sc["target"]),
                  tool({"order_id": sc["target"], "status": "delivered",
                         "items": [{"name": sc["item"], "price": sc["amount"]}]})]
    elif move == "target_details":
        parts += [call("get_reservation_details", reservation_id=sc["target"]),
                  tool({"reservation_id": sc["target"], "origin": sc["origin"], "destination": sc["dest"],
                         "cabin": "economy"})]
    elif move == "done_ok":
        target_param = "order_id" if domain == "retail" else "reservation_id"
        parts += [call(INTENTS[domain][sc["intent"]][1], **{target_param: sc["target"],
                                                             "payment_method_id": sc["payment"]}),
                  tool({"status": "ok"})]
    parts.append(pick(rng, phrase_variants(AGENT_PHRASES, move, domain)).format_map(sc))
    return "".join(parts)


def typo(word: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(3))
    if kind == 0:  # swap two neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:  # drop a letter
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]  # double a letter


def humanise(text: str, style: Style, lower: bool, rng: np.random.Generator) -> str:
    """Politeness, typos (never inside identifiers), em dashes and casing."""
    if rng.random() < style.polite:
        text = pick(rng, POLITE_ADDS).format(text)
    if style.typo_rate > 0:
        text = " ".join(
            typo(w, rng) if len(w) >= 4 and w.isalpha() and rng.random() < style.typo_rate else w
            for w in text.split(" ")
        )
    if ", " in text and rng.random() < style.dash:
        text = text.replace(", ", " \u2014 ", 1)
    return text.lower() if lower else text[:1].upper() + text[1:]


def user_turn(act: str, sc: Mapping[str, Any], style: Style, lower: bool, rng: np.random.Generator) -> str:
    text = pick(rng, phrase_variants(REGISTERS[style.register], act, sc["domain"])).format_map(sc)
    return humanise(text, style, lower, rng) if style.register == "human" else text


def dialogue(sc: Mapping[str, Any], style: Style, success: bool, rng: np.random.Generator) -> list[dict[str, str]]:
    """Agent and user turns, opening with the agent's greeting, without any meta message."""
    lower = bool(rng.random() < style.lowercase)
    messages: list[dict[str, str]] = []
    for move, act in plan(sc, style, success, rng):
        messages.append({"role": "assistant", "content": agent_message(move, sc, rng)})
        if act is not None:
            messages.append({"role": "user", "content": user_turn(act, sc, style, lower, rng)})
    return messages


def human_conversation(sc: Mapping[str, Any], style: Style, reward: float | None,
                        rng: np.random.Generator) -> list[dict[str, str]]:
    """A study session: the platform's meta messages around the dialogue."""
    instruction = (f"You are {sc['first']} {sc['last']} (user id {sc['user_id']}, email {sc['email']}, zip "
                   f"{sc['zip']}). Your goal, in your words: \"I want to {sc['want']}.\" The {sc['thing']} is "
                   f"{sc['target']}. Pay with your {sc['payment_text']}. Do not reveal everything at once.")
    canvas = (f"<|canvas|>\n### Your task\n{instruction}\n\n### Suggested opening\n\"Hi, I'd like to {sc['want']}.\""
              "\n\n### Rules\n- Play the customer described above; do not invent details.\n- Share information "
              "only when the agent asks for it.\n- Type /stop when you are done.\n<|/canvas|>")
    questions = {item: survey.SURVEY_QUESTIONS[item] for item in survey.SURVEY_ITEMS} | FREE_TEXT_QUESTIONS
    header = f"{schema.TASK_HEADER_PREFIX}task_index:{sc['domain']}-{sc['index']} model:{AGENT_MODEL}"
    return [
        {"role": "user", "content": header},
        {"role": "assistant", "content": canvas},
        *dialogue(sc, style, bool(reward), rng),
        {"role": "user", "content": schema.HUMAN_STOP},
        {"role": "assistant", "content": "<|highlight|>Please look back over the conversation before rating it."},
        {"role": "assistant", "content": f"<|survey|>{json.dumps(questions)}<|/survey|>"},
        {"role": "user", "content": schema.REWARD_CHECK_PREFIX},
        {"role": "assistant", "content": f"{schema.REWARD_CHECK_PREFIX} {json.dumps(reward)}"},
    ]


def human_persona(rng: np.random.Generator) -> Style:
    """One participant: the human style with every rate scaled by a personal factor."""
    factors = rng.uniform(0.4, 1.6, size=len(EVENTS) + 2)
    events = {e: min(1.0, HUMAN_STYLE.events.get(e, 0.0) * f) for e, f in zip(EVENTS, factors)}
    return replace(HUMAN_STYLE, events=events, typo_rate=HUMAN_STYLE.typo_rate * factors[-2],
                   polite=HUMAN_STYLE.polite * factors[-1])

