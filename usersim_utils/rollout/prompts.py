"""The fixed texts and limits of a conversation, with no heavy import (the scoring command reads
cards through :mod:`usersim_utils.rollout.card`, which needs them, without loading litellm)."""

from __future__ import annotations

import json
from typing import Literal

from .. import schema
from .. import survey as survey_mod

GREETING = schema.GREETING
STOP_MARKER = schema.STOP_MARKER
#: Model-string prefix of the embedded model's litellm provider.
LOCAL_PREFIX = "local/"
#: The litellm model string of the embedded model (``local_model.py``), named here so that
#: the command line knows it without importing litellm.
LOCAL_MODEL = f"{LOCAL_PREFIX}smollm2-135m"
DEFAULT_MAX_USER_TURNS = 80
DEFAULT_MAX_TOOL_CALLS = 64

#: How the agent is driven: the study's text catalogue and call markup (``harness.py``,
#: ``docs/method.md`` §11) or native function calling.
Harness = Literal["study", "function-calling"]
#: Which API the agent is called through: chat completions or the Responses API.
AgentApi = Literal["chat", "responses"]
#: Where ``{instruction}`` goes in a simulator prompt template.
INSTRUCTION_SLOT = "{instruction}"
AGENT_LABEL, CUSTOMER_LABEL = "Agent", "Customer"

#: tau-bench's role-play rules (``LLMUserSimulationEnv.build_system_prompt``), verbatim.
ROLE_PLAY_RULES = """Rules:
- Just generate one line at a time to simulate the user's message.
- Do not give away all the instruction at once. Only provide the information that is necessary for the current step.
- Do not hallucinate information that is not provided in the instruction. For example, if the agent asks for the order id but it is not mentioned in the instruction, do not make up an order id, just say you do not remember or have it.
- If the instruction goal is satisified, generate '###STOP###' as a standalone message without anything else to end the conversation.
- Do not repeat the exact instruction in the conversation. Instead, use your own words to convey the same information.
- Try to make the conversation as natural as possible, and stick to the personalities in the instruction.
"""  # noqa: E501 (verbatim)


#: tau-bench's user-simulator prompt as a template (the function-calling harness's default).
TAU_BENCH_TEMPLATE = f"You are a user interacting with an agent.\n\nInstruction: {INSTRUCTION_SLOT}\n{ROLE_PLAY_RULES}"

#: The study harness's simulator prompt (docs/method.md §11): the instruction, a blank
#: line, ``Rules:`` and the seven rules.
STUDY_TEMPLATE = f"""{INSTRUCTION_SLOT}

Rules:
- Just generate one line at a time to simulate the user's message.
- Do not give away all the instruction at once. Only provide the information that is necessary for the current step.
- Do not hallucinate information that is not provided in the instruction. For example, if the agent asks for the order id but it is not mentioned in the instruction, do not make up an order id, just say you do not remember or have it.
- If the instruction goal is satisified, generate '{STOP_MARKER}' as a standalone message without anything else to end the conversation.
- If you have been transferred to a human agent and the transfer is confirmed, generate '{STOP_MARKER}' right away.
- Do not repeat the exact instruction in the conversation. Instead, use your own words to convey the same information.
- Try to make the conversation as natural as possible, and stick to the personalities in the instruction."""  # noqa: E501 (tau-bench's wording)


def default_template(harness: str) -> str:
    """The simulator prompt template a harness uses when a card names none."""
    return STUDY_TEMPLATE if harness == "study" else TAU_BENCH_TEMPLATE


def render_template(template: str, instruction: str) -> str:
    """``template`` with its ``{instruction}`` slot filled (plain replacement: other
    braces in a researcher's template stay as they are)."""
    return template.replace(INSTRUCTION_SLOT, instruction)


def simulator_system_prompt(instruction: str, template: str = TAU_BENCH_TEMPLATE) -> str:
    """The user-simulator system prompt for one task instruction (default: tau-bench's)."""
    return render_template(template, instruction)


def survey_prompt() -> str:
    """The survey request (``docs/method.md`` §10): 8 fields, their options, JSON only."""
    lines = ["Based on the above conversation, fill out the survey below.", ""]
    for item in survey_mod.SURVEY_ITEMS:
        options = ", ".join(json.dumps(o) for o in dict.fromkeys(survey_mod.SURVEY_OPTIONS[item]))
        lines.append(f"- {item}: {survey_mod.SURVEY_QUESTIONS[item]}")
        lines.append(f"  Options: [{options}]")
    lines += [
        "",
        "Answer ONLY with a JSON object that maps each field id above to exactly one of its "
        "listed option strings, copied verbatim, and nothing else.",
    ]
    return "\n".join(lines)
