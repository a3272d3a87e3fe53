"""The seeded SYNTHETIC demo panel: a small stand-in for the gated ``cmu-lti/tau-usi``.

``make run`` must work without the real human data, so this module writes a panel
in exactly the dataset's layout (spec ``data-formats.md``), under a folder and
file names that say SYNTHETIC::

    SYNTHETIC_README.md
    data/tau_bench_tasks_unified.json               3 batches x n_tasks human-like sessions
    eval_results/eval_results_SYNTHETIC-<name>.json 4 simulators x 3 runs x 2 n_tasks tasks
    survey_data/survey_comparable_SYNTHETIC-<name>.json
    survey_data/survey_comparable_human-eval-100.json

Everything is drawn from phrase tables with one ``numpy.random.Generator``, so a
seed fixes every byte. The "human" sessions are varied (short replies, typos,
hedges, frustration, pushback, pivots, identifiers given piecemeal) and the four
simulators reproduce the study's finding in caricature: too cooperative, too
uniform, too positive. Every lexicon of spec ``usi.md`` §3 fires in the human
sessions, and :data:`NEAR_MISSES` (phrases that look like a lexicon but must not
match it) appear too. None of it is study data.

:class:`PanelShape` makes the same generator write *unusual* studies (two simulators,
no surveys, no re-ratings, one batch, one domain, no task shared with the humans,
invalid answers in every survey), still labelled SYNTHETIC; :data:`UNUSUAL_SHAPES`
names the ones the notebooks are tested on.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .trajectories import function_markup
from . import ids, paths, schema, survey

#: Bump when the generator's output changes: stale panels on disk are then rewritten.
GENERATOR_VERSION = "1"
#: Hash of this module's source, also stamped: any edit of the generator makes older
#: panels stale even when nobody remembers to bump the version.
SOURCE_SHA256 = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
DEMO_SEED = 20260311
#: Human tasks in the written panel (3 batches -> 90 sessions; simulators cover twice as many tasks).
DEMO_N_TASKS = 30
STAMP_FILE = ".demo_stamp.json"
README_FILE = "SYNTHETIC_README.md"
GREETING = "Hi! How can I help you today?"
AGENT_MODEL = "gpt-5.2"
N_RUNS = 3
#: Share of retail tasks (the study has 115 retail and 50 airline tasks).
RETAIL_SHARE = 0.6
#: Largest ``n_tasks``: the simulators' extra tasks must fit beside the human ones.
MAX_TASKS = 60

HUMAN_PATH = paths.HUMAN_FILE.as_posix()
RERATING_PATH = f"{paths.SURVEY_SUBDIR}/{schema.SURVEY_PREFIX}{schema.RERATING_LABEL}.json"

FREE_TEXT_QUESTIONS: dict[str, str] = {
    "specific_examples": "Give specific examples from the conversation behind your ratings.",
    "improvement_suggestions": "How could the agent be improved?",
}

# --- Phrase tables ----------------------------------------------------------------
# Slots are filled from a task's scenario (see _scenario). Variants under "act@domain"
# join those under "act" for that domain.

#: Phrases that look like a lexicon of usi.md §3 but must not match it; the human
#: tables use them so the panel exercises the boundaries of every class.
NEAR_MISSES: dict[str, tuple[str, ...]] = {
    "POLITE": ("thx", "ok thank u"),
    "ACK": ("k", "kk", "yess", "alrighty", "sure thing"),
    "EMOTION": ("not happy about this", "this is taking forever"),
    "PUSHBACK": ("hmm really?", "why is it still pending"),
    "CLARIFY": ("huh?", "which?", "which one?"),
    "INFOQ": ("refund amount?", "and the fee?", "whens it arriving"),
    "PIVOT": ("actually no", "maybe later"),
    "CONFUSE": ("let me think", "your agent said it was fine"),
    "UNCERTAIN": ("no idea", "no clue", "unsure"),
    "CERTAIN": ("im sure", "100% sure"),
    "ACCUSE": ("not great", "this is bad", "come on"),
}
_NM = NEAR_MISSES

HUMAN_PHRASES: dict[str, tuple[str, ...]] = {
    "open": (
        "hi i need to {want}", "hello, I want to {want}", "{want}", "hey, need some help with my {thing}",
        "Hi! I'd like to {want} please", "hi there. trying to {want} but the website wont let me",
        "need to {want} asap", "hello", "hi, can you help me {want}?", "hi",
    ),
    "open_full@retail": (
        "hi, my name is {first} {last} and i want to {want}. email is {email}",
        "Hello, I'd like to {want}. My email is {email} and the order is {target}.",
        "{first} {last} here, zip {zip}. want to {want}, order {target}",
    ),
    "open_full@airline": (
        "hi im {first} {last}, user id {user_id}. i want to {want}",
        "Hello, I'd like to {want}. My user id is {user_id} and the reservation is {target}.",
    ),
    "identify@retail": (
        "{email}", "its {email}", "sure, {email}", "email is {email}", "i think its {email}",
        "{first} {last}, {zip}", "uh i dont remember which email i used. {first} {last}, zip {zip}",
        "it should be {email} but not sure", "sure \u2014 {email}",
        "my email should be {email}, i use that one for everything", "100% sure its {email}",
    ),
    "identify@airline": (
        "{user_id}", "its {user_id}", "my user id is {user_id}", "i believe its {user_id}",
        "sure \u2014 {user_id}", "{user_id} i think", "hold on... {user_id}", "im sure its {user_id}",
    ),
    "name": ("{first} {last}", "my name is {first} {last}", "its under {first} {last}"),
    "zip": ("{zip}", "zip is {zip}", "oh sorry, {zip}"),
    "target@retail": (
        "{target}", "order {target}", "the one with the {item}", "its the {item} order, i dont have the number",
        "i think {target}? maybe", "{target} \u2014 the {item}", "let me check my email real quick. {target}",
        "its the {item} one, order number {target}",
    ),
    "target@airline": (
        "{target}", "reservation {target}", "confirmation code is {target}",
        "the {dest} trip, i dont have the code handy", "i forgot the code, its the one to {dest}",
    ),
    "details@retail": (
        "refund to the original payment", "to my {payment_text}", "the {payment_text}", "whatever is fastest",
        "just the {item}", "original payment method", "{payment}", "not sure, what are my options?",
        "can you put it back on the card i paid with, not store credit",
        "id like it on my {payment_text} if thats possible",
    ),
    "details@airline": (
        "economy is fine", "no insurance", "2 bags", "pay with the {payment_text}", "use my certificate",
        "the cheapest one", "the later flight, i cant do mornings", "i guess the one at 2pm",
        "whatever is cheapest but i need to land before the evening",
    ),
    "hedge": ("not sure", "dunno", "i guess so", "maybe? i dont remember", "probably the first one", "let me think",
              *_NM["UNCERTAIN"]),
    "certain": ("definitely the {item}", "i'm absolutely sure", "yes for sure", "i never ordered two of those",
                "of course", *_NM["CERTAIN"]),
    "confirm": (
        "yes", "yes please", "ok go ahead", "yep", "sure", "confirm", "yes thats right", "Yes, that's correct.",
        "ok", "do it", "yea", "go ahead", "yes, definitely", "ok cool", "yes go ahead and do it", *_NM["ACK"],
    ),
    "close": ("no thats all", "nope thanks", "thank you", "thats it. bye", "no", "great thanks!", "ok",
              "cool, thanks for the help", "no, thank you", "no that's everything, thanks for sorting it out",
              "nope thats all i needed today", "this is bad but thats all", "maybe later", *_NM["POLITE"]),
    "pushback@retail": ("i already told you, its {email}", "you already have my zip code",
                        "are you sure? i ordered it like a week ago", "check again please, it should be there"),
    "pushback@airline": ("i already gave you my user id", "are you sure? i booked it last month",
                         "that's not what i asked", "no. i would never book basic economy"),
    "pushback": ("i already said i want to {want}", "why would i need to give that again",
                 "check again please", *_NM["PUSHBACK"]),
    "react": (
        "why can't you just do it", "that's ridiculous, i've been a customer for years", "ugh. fine",
        "this is not fair", "that can't be right, the website said i could", "seriously?? thats useless",
        "i'm really frustrated, this is the third time i've asked", "ok i understand", "this is a scam honestly",
        "that's unacceptable", "ok i understand that, but can you still help me", *_NM["EMOTION"], *_NM["ACCUSE"],
    ),
    "clarify": (
        "what do you mean by pending?", "wait, which one is cheaper?", "sorry what",
        "i don't understand, is it cancelled or not", "what's the difference between the two",
        "can you explain that again", "so you're saying i get the money back?", "which order is which",
        "what exactly does that cost me", "im confused, did it go through", *_NM["CLARIFY"],
    ),
    "infoq": (
        "how much will i get back", "when will the refund show up", "how long does that take", "is there a fee?",
        "what's the total", "can you check if the other {thing} is ok", "do you know when it arrives",
        "where is my package right now", *_NM["INFOQ"],
    ),
    "pivot": (
        "actually can we just cancel the whole {thing} instead", "wait could you change it to the other card",
        "how about a refund instead", "on second thought lets do the other option", "what if i keep it as is",
        "id rather get a gift card", "maybe we should switch to the later flight", *_NM["PIVOT"],
    ),
    "emotion": ("ugh this is so slow", "i'm so annoyed right now", "this is stressing me out, i need this sorted today",
                "honestly i'm worried it won't get here in time", "i'm getting nervous about the deadline",
                *_NM["EMOTION"]),
    "accuse": ("thats wrong", "this is your fault", "the last agent was useless", "you guys messed up, its a disgrace",
               "your site is misleading", *_NM["ACCUSE"]),
    "confuse": ("do you want my email or my user id?", "would you like the {thing} number too?",
                "i see that your site says its delivered", "have you tried looking it up by my name?",
                *_NM["CONFUSE"]),
}

EAGER_PHRASES: dict[str, tuple[str, ...]] = {
    "open_full": (
        "Hello! Thank you so much for taking the time to help me today. I would like to {want}. My user ID is "
        "{user_id} and my email address is {email}. I would really appreciate your assistance with this!",
        "Hi there! I hope you're having a wonderful day. I'm reaching out because I would like to {want}. For "
        "your reference, my name is {first} {last}, my zip code is {zip}, and the {thing} ID is {target}. "
        "Thank you in advance for your help!",
        "Good afternoon! I would be very grateful if you could help me {want}. My user ID is {user_id}, and the "
        "relevant {thing} is {target}. Please let me know if you need anything else from me.",
    ),
    "identify": ("Of course! My email address is {email}, and my name is {first} {last} with zip code {zip}. "
                 "Thank you!",
                 "Certainly! My user ID is {user_id}. Please let me know if you need any other details."),
    "target": ("Certainly! The {thing} ID is {target}. Thank you so much for checking on this for me.",
               "Of course, it's {target}. I really appreciate your help!"),
    "details": ("I would prefer to use my {payment_text}, please. Thank you so much for your help!",
                "That sounds perfect. Please use my {payment_text} for this. Thank you!"),
    "certain": ("Yes, I am absolutely certain. Thank you for double-checking!",),
    "confirm": ("Yes, please proceed. Thank you so much for your help!",
                "Yes, that is absolutely correct. Please go ahead, I really appreciate it!",
                "Yes, everything looks perfect. Please go ahead with it, thank you!"),
    "close": ("That's everything I needed. Thank you so much for your wonderful help today!",
              "No, that will be all. Thank you again for your excellent assistance. Have a wonderful day!"),
    "react": ("I understand, thank you for explaining the policy so clearly. Is there another way to resolve this?",
              "Thank you for letting me know. I completely understand. What would you suggest as the next best "
              "option?"),
    "clarify": ("Thank you! Could you please clarify what that means for my {thing}?",),
    "infoq": ("Thank you! Could you please tell me how much the total will be?",),
    "pivot": ("Thank you for the options. On second thought, I would prefer to keep the original plan instead, "
              "if that's okay.",),
}

TERSE_PHRASES: dict[str, tuple[str, ...]] = {
    "open": ("{want}", "need to {want}", "hi. {want}"),
    "identify@retail": ("{email}", "{first} {last} {zip}"),
    "identify@airline": ("{user_id}",),
    "target": ("{target}",),
    "details": ("{payment_text}", "original payment", "fine", "cheapest"),
    "certain": ("yes definitely",),
    "confirm": ("yes", "ok", "sure", "yes.", "confirm", "ok.", "yes proceed"),
    "close": ("thanks", "no", "ok thanks"),
    "react": ("ok", "fine", "ok."),
    "clarify": ("meaning?", "which one?"),
    "infoq": ("how long?", "how much?"),
    "pivot": ("cancel instead",),
}

AGENTLIKE_PHRASES: dict[str, tuple[str, ...]] = {
    "open": ("Hello, I'd like to {want}. I will provide my details as needed.",
             "Hi, I am contacting you about my {thing}. I would like to {want}.",
             "Hello! How can I help you... sorry, I mean, I need help to {want}."),
    "open_full": ("Hello, I'd like to {want}. For verification purposes, my user ID is {user_id}.",),
    "identify": ("Let me check my account details. My user ID is {user_id}.",
                 "For verification purposes, my email is {email}.", "My email is {email}."),
    "target": ("Let me look that up. The {thing} ID is {target}.",
               "I understand your request. The {thing} is {target}.",
               "It is {target}."),
    "details": ("I can confirm the {payment_text} should be used. Would you like anything else from me?",
                "I will verify: please use the {payment_text}. Is there anything else I can provide?",
                "Please use the {payment_text}."),
    "certain": ("I am certain. Allow me to confirm that once more.",),
    "confirm": ("Yes, I confirm. Thank you for your patience.", "I understand. Yes, please proceed with the request.",
                "Yes. Is there anything else I can help you with?", "Yes, please proceed."),
    "loop": ("Yes, please proceed with the request.",),
    "close": ("Thank you for contacting us! Is there anything else I can help you with today?",
              "I'm glad to help. Have a great day!", "Thank you, that is all."),
    "react": ("I understand your policy. Would you like me to try a different option?",
              "According to the policy you mentioned, I can offer to keep the current booking instead."),
    "clarify": ("Could you clarify what you mean? I will check on my end.",),
    "infoq": ("Can you check the status of the {thing} for me?",),
    "pivot": ("Would you prefer that I change it to a different option instead?",),
}

REGISTERS: dict[str, dict[str, tuple[str, ...]]] = {
    "human": HUMAN_PHRASES,
    "eager": EAGER_PHRASES,
    "terse": TERSE_PHRASES,
    "agentlike": AGENTLIKE_PHRASES,
}

AGENT_PHRASES: dict[str, tuple[str, ...]] = {
    "ask_identity@retail": (
        "I can help with that. Could you please share the email address on your account, or your first and "
        "last name plus zip code?",
        "Sure! First I need to verify your identity. What is the email associated with your account?",
    ),
    "ask_identity@airline": ("I can help with that. Could you please provide your user ID?",
                             "Happy to help. To get started, what is your user ID?"),
    "ask_zip": ("Thanks, {first}. What is the zip code on the account?",),
    "reask_identity": ("Before I continue, could you confirm the account details once more?",),
    "found_account@retail": ("Thanks, {first}. I found your account. Which order is this about? I see {target} "
                             "and {other_target}.",),
    "found_account@airline": ("Thank you, {first}. I see two reservations on your profile, {target} and "
                              "{other_target}. Which one would you like to work with?",),
    "answer_confuse": ("What you gave me is enough for now. Which {thing} is this about?",),
    "target_details@retail": ("Order {target} contains the {item} (${amount}) and has been delivered. How would you "
                              "like the refund issued: to the original payment method or to a gift card?",),
    "target_details@airline": ("Reservation {target} is a {origin} to {dest} trip in economy on {date}. How would "
                               "you like to pay any difference, and do you want travel insurance?",),
    "jargon@retail": ("Note: as the order status is 'pending', I would modify it rather than process a return, "
                      "and all items must be changed in one action.",),
    "jargon@airline": ("Please note that basic economy fares cannot be modified, only cancelled within 24 hours "
                       "of booking or with travel insurance.",),
    "explain": ("It means the change applies to the whole {thing}. The amount involved is ${amount}; refunds reach "
                "the original payment method in 5-7 business days.",),
    "refuse@retail": ("I'm sorry, but according to our policy I can't process that request for this order.",),
    "refuse@airline": ("I'm sorry, but under our policy this reservation can't be changed or cancelled.",),
    "offer": ("I understand your frustration. I can transfer you to a human agent or look at other options.",),
    "wait": ("One moment while I check that for you.",),
    "summarise": ("To confirm: {thing} {target}, action: {intent}, amount ${amount}, payment {payment}. "
                  "Shall I proceed (yes/no)?",),
    "resummarise": ("Understood, I have updated the request. {thing} {target}, amount ${amount}. Shall I proceed "
                    "(yes/no)?", "No problem. Here is the updated plan for {thing} {target}; please confirm (yes/no)."),
    "confirm_again": ("Just to confirm, would you like me to proceed with this request? (yes/no)",),
    "done_ok": ("Done! Your request for {thing} {target} has been processed. Is there anything else I can help "
                "you with?",),
    "done_fail": ("I'm sorry, I wasn't able to complete this request under our policy. Is there anything else I "
                  "can help you with?", "I have transferred you to a human agent who can assist further."),
}
AGENT_THINK: dict[str, str] = {
    "ask_identity": "The user must be authenticated before any lookup.",
    "found_account": "Found the user; ask which item the request is about.",
    "target_details": "Read the details and gather what the action needs.",
    "refuse": "The policy does not allow this action; explain and offer alternatives.",
    "summarise": "List the action details and ask for explicit confirmation.",
    "done_ok": "The user confirmed; perform the action.",
}

RETAIL_ITEMS = ("desk lamp", "water bottle", "hiking boots", "mechanical keyboard", "t-shirt", "office chair",
                "bluetooth speaker", "yoga mat", "coffee maker", "backpack")
CITIES = (("New York", "JFK"), ("Seattle", "SEA"), ("Chicago", "ORD"), ("Dallas", "DFW"), ("Denver", "DEN"),
          ("Boston", "BOS"), ("Miami", "MIA"), ("Los Angeles", "LAX"))
DATES = ("May 16", "May 18", "May 20", "May 22", "May 25")
FIRST_NAMES = ("mia", "yusuf", "omar", "sofia", "lucas", "aarav", "chen", "emma", "noah", "fatima", "ivan", "lei",
               "olivia", "raj", "amelia", "daiki")
LAST_NAMES = ("li", "rossi", "garcia", "khan", "smith", "nguyen", "kim", "silva", "patel", "moore", "lopez", "ito")
#: intent -> (what the user wants, the tool that performs it).
INTENTS: dict[str, dict[str, tuple[str, str]]] = {
    "retail": {
        "return": ("return the {item} from my last order", "return_delivered_order_items"),
        "exchange": ("exchange the {item} for a different color", "exchange_delivered_order_items"),
        "cancel": ("cancel my order of the {item}", "cancel_pending_order"),
        "address": ("change the shipping address on my {item} order", "modify_pending_order_address"),
        "modify": ("switch the {item} in my pending order to another size", "modify_pending_order_items"),
    },
    "airline": {
        "cancel": ("cancel my flight from {origin} to {dest}", "cancel_reservation"),
        "change": ("move my {origin} to {dest} flight to {date}", "update_reservation_flights"),
        "bags": ("add checked bags to my trip to {dest}", "update_reservation_baggages"),
        "upgrade": ("upgrade my {dest} flight to business", "update_reservation_flights"),
        "book": ("book a one way flight from {origin} to {dest} on {date}", "book_reservation"),
    },
}
POLITE_ADDS = ("{} please", "{} thanks", "sorry, {}", "thank you, {}", "{}, thank you")
SPECIFIC_EXAMPLES = ("it asked for my email twice", "the agent listed every detail before doing anything",
                     "it explained the refund clearly", "took a few tries to find the right order", "",
                     "kept saying it couldn't because of policy", "it was fast", "it confirmed before acting")
IMPROVEMENTS = ("ask fewer questions", "fewer confirmations please", "be more flexible with the policy", "",
                "nothing really", "shorter messages", "let me talk to a human sooner", "explain the fees upfront")
JUDGE_OK = ("The participant stayed in character, shared identifiers when asked and confirmed before the agent acted.",
            "The participant followed the task instruction; replies were short but on task.",
            "Role-play rules were followed; the participant pushed back where the instruction allowed it.")
JUDGE_FAIL = ("The participant ignored the task instruction and ended the session early.",
              "Replies were off-task and did not follow the role-play rules.")

# --- Styles: who is talking ----------------------------------------------------------
#: Per-session events, drawn in this order (one draw each, so the rng stream is stable).
EVENTS: tuple[str, ...] = ("frontload", "piecemeal", "pushback", "confuse", "hedge", "certain", "clarify",
                           "infoq", "accuse", "emotion", "pivot", "loop", "quiet_close")


@dataclass(frozen=True)
class Style:
    """How a user writes: a phrase register plus per-turn and per-session rates."""

    register: str
    lowercase: float = 0.0  # probability that a session is typed all lower-case
    typo_rate: float = 0.0  # per word
    polite: float = 0.0  # per turn: a please/thanks/sorry is added
    dash: float = 0.0  # per turn: a comma becomes an em dash
    events: Mapping[str, float] = field(default_factory=dict)


HUMAN_STYLE = Style(
    "human", lowercase=0.6, typo_rate=0.04, polite=0.12, dash=0.02,
    events={"frontload": 0.2, "piecemeal": 0.4, "pushback": 0.3, "confuse": 0.1, "hedge": 0.3, "certain": 0.2,
            "clarify": 0.35, "infoq": 0.4, "accuse": 0.15, "emotion": 0.2, "pivot": 0.25, "quiet_close": 0.3},
)


@dataclass(frozen=True)
class Simulator:
    """A synthetic simulator: its style, how much likelier it succeeds than a human
    (a shift in log-odds), and how it fills in the survey."""

    label: str
    style: Style
    success_shift: float
    survey_level: float  # 0-1: how positive its ratings are (plus reward_weight x reward)
    survey_noise: float
    invalid_rate: float  # per survey item: missing or not one of the options
    reward_weight: float = 0.0
    has_keep: bool = False  # write a ``keep`` field (the format makes it optional)
    drop_rate: float = 0.0  # share of entries with keep false


SIMULATORS: tuple[Simulator, ...] = (
    Simulator("SYNTHETIC-eager", Style("eager", events={"frontload": 1.0, "certain": 0.1, "clarify": 0.1,
                                                        "infoq": 0.3, "pivot": 0.05}),
              success_shift=1.2, survey_level=0.93, survey_noise=0.07, invalid_rate=0.01),
    Simulator("SYNTHETIC-terse", Style("terse", events={"certain": 0.05, "clarify": 0.1, "infoq": 0.15,
                                                        "pivot": 0.05}),
              success_shift=0.8, survey_level=0.78, survey_noise=0.1, invalid_rate=0.06),
    Simulator("SYNTHETIC-agentlike", Style("agentlike", events={"frontload": 0.3, "certain": 0.1, "clarify": 0.15,
                                                                "infoq": 0.2, "pivot": 0.15, "loop": 0.2}),
              success_shift=0.4, survey_level=0.85, survey_noise=0.1, invalid_rate=0.03,
              has_keep=True, drop_rate=0.02),
    Simulator("SYNTHETIC-humanlike", replace(
        HUMAN_STYLE, lowercase=0.3, typo_rate=0.01, polite=0.3, dash=0.0,
        events={"frontload": 0.5, "piecemeal": 0.2, "pushback": 0.08, "confuse": 0.05, "hedge": 0.15,
                "certain": 0.2, "clarify": 0.2, "infoq": 0.4, "accuse": 0.02, "emotion": 0.05, "pivot": 0.08,
                "quiet_close": 0.1}),
              success_shift=0.2, survey_level=0.5, survey_noise=0.15, invalid_rate=0.02, reward_weight=0.3,
              has_keep=True),
)


# --- Small helpers ---------------------------------------------------------------------
def _pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, size=n))


def _phrase(table: Mapping[str, tuple[str, ...]], act: str, domain: str) -> tuple[str, ...]:
    """The variants of ``act``: the domain's own (``act@domain``) and the shared ones."""
    variants = table.get(f"{act}@{domain}", ()) + table.get(act, ())
    if not variants:
        raise KeyError(f"no phrases for {act!r} ({domain})")
    return variants


def _call(name: str, **params: Any) -> str:
    return function_markup(name, params)


def _tool(result: Any) -> str:
    return f"<|tool|>{json.dumps(result, sort_keys=True)}<|/tool|>"


# --- Tasks and their scenarios --------------------------------------------------------
def _pick_tasks(rng: np.random.Generator, n_tasks: int, domains: Sequence[str] = ("retail", "airline")
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


def _scenario(task: str, rng: np.random.Generator) -> dict[str, Any]:
    """The slots of one task: who the customer is, what they want, the ids involved,
    and ``p_success``, the chance that a typical human session succeeds."""
    domain, index = task.split("_")
    first, last = _pick(rng, FIRST_NAMES), _pick(rng, LAST_NAMES)
    intent = _pick(rng, list(INTENTS[domain]))
    sc: dict[str, Any] = {
        "task": task, "domain": domain, "index": int(index), "intent": intent,
        "first": first.title(), "last": last.title(), "user_id": f"{first}_{last}_{_digits(rng, 4)}",
        "email": f"{first}.{last}{_digits(rng, 4)}@example.com", "zip": _digits(rng, 5),
        "amount": int(rng.integers(20, 400)), "date": _pick(rng, DATES),
        "p_success": float(np.clip(rng.beta(0.5, 0.5), 0.03, 0.97)),
    }
    if domain == "retail":
        sc["thing"], sc["item"] = "order", _pick(rng, RETAIL_ITEMS)
        sc["target"], sc["other_target"] = f"#W{_digits(rng, 7)}", f"#W{_digits(rng, 7)}"
        kind = _pick(rng, ("gift_card", "credit_card", "paypal"))
        sc["payment"] = f"{kind}_{_digits(rng, 7)}"
        sc["payment_text"] = {"gift_card": "gift card", "credit_card": f"visa ending in {_digits(rng, 4)}",
                              "paypal": "paypal account"}[kind]
    else:
        (origin, _), (dest, _) = (CITIES[i] for i in rng.choice(len(CITIES), size=2, replace=False))
        sc["thing"], sc["item"], sc["origin"], sc["dest"] = "reservation", f"{dest} flight", origin, dest
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
        sc["target"], sc["other_target"] = ("".join(_pick(rng, alphabet) for _ in range(6)) for _ in range(2))
        kind = _pick(rng, ("certificate", "credit_card"))
        sc["payment"] = f"{kind}_{_digits(rng, 7)}"
        sc["payment_text"] = "travel certificate" if kind == "certificate" else f"card ending in {_digits(rng, 4)}"
    sc["want"] = INTENTS[domain][intent][0].format_map(sc)
    return sc


def _success_probability(p_human: float, shift: float) -> float:
    return 1.0 / (1.0 + math.exp(-(math.log(p_human / (1.0 - p_human)) + shift)))


# --- Conversations --------------------------------------------------------------------
def _plan(sc: Mapping[str, Any], style: Style, success: bool, rng: np.random.Generator) -> list[tuple[str, str | None]]:
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


def _agent_message(move: str, sc: Mapping[str, Any], rng: np.random.Generator) -> str:
    """An agent turn with the study's markup: reasoning summary, tool calls and results."""
    if move == "greeting":
        return GREETING
    domain = sc["domain"]
    parts = [f"<|think|>{AGENT_THINK[move]}<|/think|>"] if move in AGENT_THINK else []
    if move == "found_account" and domain == "retail":
        parts += [_call("find_user_id_by_email", email=sc["email"]), _tool(sc["user_id"])]
    if move == "found_account":
        parts += [_call("get_user_details", user_id=sc["user_id"]),
                  _tool({"name": f"{sc['first']} {sc['last']}", "items": [sc["target"], sc["other_target"]]})]
    elif move == "target_details" and domain == "retail":
        parts += [_call("get_order_details", order_id=sc["target"]),
                  _tool({"order_id": sc["target"], "status": "delivered",
                         "items": [{"name": sc["item"], "price": sc["amount"]}]})]
    elif move == "target_details":
        parts += [_call("get_reservation_details", reservation_id=sc["target"]),
                  _tool({"reservation_id": sc["target"], "origin": sc["origin"], "destination": sc["dest"],
                         "cabin": "economy"})]
    elif move == "done_ok":
        target_param = "order_id" if domain == "retail" else "reservation_id"
        parts += [_call(INTENTS[domain][sc["intent"]][1], **{target_param: sc["target"],
                                                             "payment_method_id": sc["payment"]}),
                  _tool({"status": "ok"})]
    parts.append(_pick(rng, _phrase(AGENT_PHRASES, move, domain)).format_map(sc))
    return "".join(parts)


def _typo(word: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(3))
    if kind == 0:  # swap two neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:  # drop a letter
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]  # double a letter


def _humanise(text: str, style: Style, lower: bool, rng: np.random.Generator) -> str:
    """Politeness, typos (never inside identifiers), em dashes and casing."""
    if rng.random() < style.polite:
        text = _pick(rng, POLITE_ADDS).format(text)
    if style.typo_rate > 0:
        text = " ".join(
            _typo(w, rng) if len(w) >= 4 and w.isalpha() and rng.random() < style.typo_rate else w
            for w in text.split(" ")
        )
    if ", " in text and rng.random() < style.dash:
        text = text.replace(", ", " \u2014 ", 1)
    return text.lower() if lower else text[:1].upper() + text[1:]


def _user_turn(act: str, sc: Mapping[str, Any], style: Style, lower: bool, rng: np.random.Generator) -> str:
    text = _pick(rng, _phrase(REGISTERS[style.register], act, sc["domain"])).format_map(sc)
    return _humanise(text, style, lower, rng) if style.register == "human" else text


def _dialogue(sc: Mapping[str, Any], style: Style, success: bool, rng: np.random.Generator) -> list[dict[str, str]]:
    """Agent and user turns, opening with the agent's greeting, without any meta message."""
    lower = bool(rng.random() < style.lowercase)
    messages: list[dict[str, str]] = []
    for move, act in _plan(sc, style, success, rng):
        messages.append({"role": "assistant", "content": _agent_message(move, sc, rng)})
        if act is not None:
            messages.append({"role": "user", "content": _user_turn(act, sc, style, lower, rng)})
    return messages


def _human_conversation(sc: Mapping[str, Any], style: Style, reward: float | None,
                        rng: np.random.Generator) -> list[dict[str, str]]:
    """A study session: the platform's meta messages around the dialogue."""
    instruction = (f"You are {sc['first']} {sc['last']} (user id {sc['user_id']}, email {sc['email']}, zip "
                   f"{sc['zip']}). Your goal, in your words: \"I want to {sc['want']}.\" The {sc['thing']} is "
                   f"{sc['target']}. Pay with your {sc['payment_text']}. Do not reveal everything at once.")
    canvas = (f"<|canvas|>\n### Your task\n{instruction}\n\n### Suggested opening\n\"Hi, I'd like to {sc['want']}.\""
              "\n\n### Rules\n- Play the customer described above; do not invent details.\n- Share information "
              "only when the agent asks for it.\n- Type /stop when you are done.\n<|/canvas|>")
    questions = {item: survey.SURVEY_QUESTIONS[item] for item in survey.SURVEY_ITEMS} | FREE_TEXT_QUESTIONS
    return [
        {"role": "user", "content": f"\\tau task_index:{sc['domain']}-{sc['index']} model:{AGENT_MODEL}"},
        {"role": "assistant", "content": canvas},
        *_dialogue(sc, style, bool(reward), rng),
        {"role": "user", "content": "/stop"},
        {"role": "assistant", "content": "<|highlight|>Please look back over the conversation before rating it."},
        {"role": "assistant", "content": f"<|survey|>{json.dumps(questions)}<|/survey|>"},
        {"role": "user", "content": "\\reward"},
        {"role": "assistant", "content": f"\\reward {json.dumps(reward)}"},
    ]


def _human_persona(rng: np.random.Generator) -> Style:
    """One participant: the human style with every rate scaled by a personal factor."""
    factors = rng.uniform(0.4, 1.6, size=len(EVENTS) + 2)
    events = {e: min(1.0, HUMAN_STYLE.events.get(e, 0.0) * f) for e, f in zip(EVENTS, factors)}
    return replace(HUMAN_STYLE, events=events, typo_rate=HUMAN_STYLE.typo_rate * factors[-2],
                   polite=HUMAN_STYLE.polite * factors[-1])


# --- Surveys ----------------------------------------------------------------------------
#: Each item's options from worst to best (ties keep the spec's order).
_RANKED: dict[str, list[str]] = {
    item: sorted(options, key=options.__getitem__) for item, options in survey.SURVEY_OPTIONS.items()
}


def _survey_answers(level: float, noise: float, reward: float, rng: np.random.Generator) -> dict[str, str]:
    """One option per item around a satisfaction ``level`` in [0, 1]; task success also follows the reward."""
    answers = {}
    for item, ranked in _RANKED.items():
        centre = 0.15 + 0.7 * reward + 0.3 * (level - 0.5) if item == "task_success" else level
        x = centre + noise * float(rng.standard_normal())
        answers[item] = ranked[min(len(ranked) - 1, max(0, int(x * len(ranked))))]
    return answers


def _as_survey(answers: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    questions = survey.SURVEY_QUESTIONS | FREE_TEXT_QUESTIONS
    return {item: {"question": questions[item], "answer": answer} for item, answer in answers.items()}


def _spoil(answers: dict[str, str], rate: float, rng: np.random.Generator) -> dict[str, Any]:
    """A simulator's slips: an answer left out, mis-cased, a number, or N/A (all scored as missing)."""
    out: dict[str, Any] = {}
    for item, answer in answers.items():
        if rng.random() >= rate:
            out[item] = answer
            continue
        kind = int(rng.integers(4))
        if kind == 1:
            out[item] = answer.lower() if answer != answer.lower() else answer.upper()
        elif kind == 2:
            out[item] = survey.SURVEY_OPTIONS[item][answer]
        elif kind == 3:
            out[item] = "N/A"
    return out


def _rerate(answers: Mapping[str, str], rng: np.random.Generator) -> dict[str, str]:
    """A second human's rating: each item moves one option up or down a third of the time."""
    out = {}
    for item, answer in answers.items():
        ranked = _RANKED[item]
        i = ranked.index(answer)
        if rng.random() < 1 / 3:
            i = min(len(ranked) - 1, max(0, i + _pick(rng, (-1, 1))))
        out[item] = ranked[i]
    return out


# --- The panel ---------------------------------------------------------------------------
def _human_sessions(tasks: Sequence[str], scenarios: Mapping[str, dict], rng: np.random.Generator,
                    n_batches: int = 3) -> tuple[dict[str, dict], dict[str, dict[str, str]]]:
    """``(records, ordinal answers by key)`` of ``n_batches`` batches over ``tasks``."""
    keys = [f"{t}{suffix}" for suffix in ("", "_ann2", "_ann3")[:n_batches] for t in tasks]
    n = len(keys)
    dropped = set(rng.choice(n, size=max(2, round(0.04 * n)), replace=False).tolist())
    null_reward = set(rng.choice(sorted(set(range(n)) - dropped), size=2, replace=False).tolist())
    platform_ids = rng.permutation(n) + 1001
    records: dict[str, dict] = {}
    answers: dict[str, dict[str, str]] = {}
    for k, key in enumerate(keys):
        sc = scenarios[ids.task_key(key)]
        success = rng.random() < sc["p_success"]
        reward = None if k in null_reward else float(success)
        level = float(np.clip(0.3 + 0.35 * success + 0.15 * rng.standard_normal(), 0.0, 1.0))
        answers[key] = _survey_answers(level, 0.2, float(success), rng)
        free = {"specific_examples": _pick(rng, SPECIFIC_EXAMPLES), "improvement_suggestions": _pick(rng, IMPROVEMENTS)}
        passed = k not in dropped
        records[key] = {
            "task_id": int(platform_ids[k]),
            "instance_id": key,
            "agent_id": "agent-origin",
            "conversation": _human_conversation(sc, _human_persona(rng), reward, rng),
            "survey": _as_survey(answers[key] | free),
            "quality_score": round(float(rng.uniform(65, 99) if passed else rng.uniform(15, 55)), 1),
            "quality_passed": passed,
            "llm_reasoning": _pick(rng, JUDGE_OK if passed else JUDGE_FAIL),
            "human_score": None,
            "human_reasoning": None,
            "keep": passed,
            "reward": reward,
        }
    return records, answers


def _simulator_files(
    sim: Simulator, tasks: Sequence[str], human_keys: Sequence[str], scenarios: Mapping[str, dict],
    rng: np.random.Generator,
) -> tuple[dict[str, dict], dict[str, dict]]:
    """``(eval_results, surveys)`` of one simulator: 3 runs over ``tasks``; the survey of
    human key ``x`` (batch b) rates run b of ``x``'s task (none when that task was not run)."""
    rollouts: dict[str, dict] = {}
    for task in tasks:
        sc = scenarios[task]
        p = _success_probability(sc["p_success"], sim.success_shift)
        for run in range(1, N_RUNS + 1):
            key = f"{task}_{run}"
            success = bool(rng.random() < p)
            conversation = _dialogue(sc, sim.style, success, rng) + [{"role": "user", "content": "###STOP###"}]
            record: dict[str, Any] = {"instance_id": key, "conversation": conversation, "reward": float(success)}
            if sim.has_keep:
                record["keep"] = bool(rng.random() >= sim.drop_rate)
            rollouts[key] = record
    surveys: dict[str, dict] = {}
    for key in human_keys:
        base, batch = ids.split_batch(key)
        if f"{base}_{batch}" not in rollouts:
            continue
        reward = rollouts[f"{base}_{batch}"]["reward"]
        level = min(1.0, sim.survey_level + sim.reward_weight * reward)
        answers = _spoil(_survey_answers(level, sim.survey_noise, reward, rng), sim.invalid_rate, rng)
        surveys[key] = {"instance_id": key, "survey": _as_survey(answers)}
    return rollouts, surveys


@dataclass(frozen=True)
class PanelShape:
    """What a generated study holds; the defaults make the demo panel.

    The other values make unusual (still SYNTHETIC) studies to test the notebooks on.
    Files a shape leaves out are still drawn, so the rest of the panel stays as in the
    default one; only ``domains``, ``n_batches``, ``n_simulators`` and ``shared_tasks``
    change the draws.
    """

    n_simulators: int = len(SIMULATORS)  # the first n of SIMULATORS (1-4)
    simulator_surveys: bool = True  # write survey_comparable_<label>.json per simulator
    rerating: bool = True  # write the human re-rating (survey_comparable_human-eval-100.json)
    n_batches: int = 3  # human batches (1-3): key suffixes "", "_ann2", "_ann3"
    domains: tuple[str, ...] = ("retail", "airline")  # one domain, or both
    shared_tasks: bool = True  # False: simulators run only tasks no human played (no survey then)
    invalid_answers: bool = False  # answers outside the options in every survey of every file

    def __post_init__(self) -> None:
        if not 1 <= self.n_simulators <= len(SIMULATORS):
            raise ValueError(f"n_simulators must be in 1..{len(SIMULATORS)}, got {self.n_simulators}")
        if not 1 <= self.n_batches <= 3:
            raise ValueError(f"n_batches must be in 1..3, got {self.n_batches}")
        if not self.domains or len(set(self.domains)) != len(self.domains) or not set(self.domains) <= set(ids.DOMAINS):
            raise ValueError(f"domains must be one or both of {ids.DOMAINS}, got {self.domains!r}")

    def max_tasks(self) -> int:
        """Largest ``n_tasks``: the simulators' extra tasks must fit beside the human ones."""
        return MAX_TASKS if len(self.domains) > 1 else ids.N_TASKS[self.domains[0]] // 2

    def describe(self) -> str:
        """What differs from the demo panel, in words ("" for the default shape)."""
        default = PanelShape()
        parts = []
        if self.n_simulators != default.n_simulators:
            parts.append(f"{self.n_simulators} simulator(s) only")
        if not self.simulator_surveys:
            parts.append("no simulator survey files")
        if not self.rerating:
            parts.append("no human re-rating")
        if self.n_batches != default.n_batches:
            parts.append(f"{self.n_batches} human batch(es) only")
        if self.domains != default.domains and len(self.domains) == 1:
            parts.append(f"{self.domains[0]} tasks only")
        if not self.shared_tasks:
            parts.append("no task shared by the simulators and the humans")
        if self.invalid_answers:
            parts.append("survey answers outside the options in every file (humans, simulators, re-rating)")
        return "; ".join(parts)


#: The unusual studies the notebooks must run on (tests/test_unusual_studies.py).
UNUSUAL_SHAPES: dict[str, PanelShape] = {
    "two-simulators": PanelShape(n_simulators=2),
    "no-surveys": PanelShape(simulator_surveys=False, rerating=False),
    "no-reratings": PanelShape(rerating=False),
    "invalid-answers": PanelShape(invalid_answers=True),
    "airline-only": PanelShape(domains=("airline",)),
    "one-batch": PanelShape(n_batches=1),
    "no-shared-task": PanelShape(shared_tasks=False),
}
#: Invalid survey answers: not an option, a wrong case, "N/A", a number (all skipped by the index).
INVALID_ANSWERS: tuple[Any, ...] = ("Not an option", "good", "N/A", 3)
#: Share of ordinal answers made invalid in each file of an ``invalid_answers`` study.
INVALID_ANSWER_RATE = 0.1


def _invalidate(surveys: Mapping[str, Mapping[str, Any]], rng: np.random.Generator) -> None:
    """Replace about :data:`INVALID_ANSWER_RATE` of the ordinal answers of every record in
    place (the first record's first item always) with one of :data:`INVALID_ANSWERS`."""
    for n, record in enumerate(surveys.values()):
        for i, item in enumerate(survey.SURVEY_ITEMS):
            entry = record["survey"].get(item)
            if entry is not None and ((n == 0 and i == 0) or rng.random() < INVALID_ANSWER_RATE):
                entry["answer"] = _pick(rng, INVALID_ANSWERS)


def generate_demo_panel(rng: np.random.Generator, *, n_tasks: int = 30,
                        shape: PanelShape = PanelShape()) -> dict[str, object]:
    """The demo panel's data files, ``{relative path: JSON-able object}`` (the README is
    written by :func:`write_demo_panel`, which knows the seed).

    ``n_tasks`` human tasks (60 % retail), 3 human batches over them; 4 simulators
    with 3 runs over those tasks plus ``n_tasks`` more; one survey file per simulator
    keyed like the human sessions; a second human rating of two thirds of batch 1.
    ``shape`` changes any of these (:class:`PanelShape`). Pure apart from consuming ``rng``.
    """
    if not 2 <= n_tasks <= shape.max_tasks():
        raise ValueError(f"n_tasks must be in 2..{shape.max_tasks()}, got {n_tasks}")
    human_tasks, extra_tasks = _pick_tasks(rng, n_tasks, shape.domains)
    all_tasks = human_tasks + extra_tasks
    scenarios = {task: _scenario(task, rng) for task in all_tasks}
    human, human_answers = _human_sessions(human_tasks, scenarios, rng, shape.n_batches)
    panel: dict[str, object] = {HUMAN_PATH: human}
    surveys_of: dict[str, dict] = {}
    for sim in SIMULATORS[:shape.n_simulators]:
        tasks = all_tasks if shape.shared_tasks else extra_tasks
        rollouts, surveys = _simulator_files(sim, tasks, list(human), scenarios, rng)
        panel[f"{paths.EVAL_RESULTS_SUBDIR}/{schema.EVAL_PREFIX}{sim.label}.json"] = rollouts
        if shape.simulator_surveys and surveys:
            surveys_of[f"{paths.SURVEY_SUBDIR}/{schema.SURVEY_PREFIX}{sim.label}.json"] = surveys
    panel |= surveys_of
    rerated = rng.choice(human_tasks, size=max(1, round(2 * n_tasks / 3)), replace=False)
    rerating = {str(k): {"survey": _as_survey(_rerate(human_answers[str(k)], rng))} for k in rerated}
    if shape.rerating:
        panel[RERATING_PATH] = rerating
    if shape.invalid_answers:
        for rel in (HUMAN_PATH, *surveys_of, *([RERATING_PATH] if shape.rerating else [])):
            _invalidate(panel[rel], rng)
    return panel


# --- Writing --------------------------------------------------------------------------------
def readme_text(seed: int, n_tasks: int, shape: PanelShape = PanelShape()) -> str:
    """The panel's SYNTHETIC_README.md (a last paragraph says how an unusual ``shape`` differs)."""
    sims = ", ".join(s.label for s in SIMULATORS)
    variant = shape.describe()
    note = (f"\nThis is an UNUSUAL variant made to test the notebooks, not the demo panel: {variant}. "
            "The files of the layout it lacks are absent on purpose.\n") if variant else ""
    return (
        "# SYNTHETIC demo panel: not study data\n\n"
        "Every file in this folder is SYNTHETIC. It was generated by `usersim_utils.demo` "
        f"(generator version {GENERATOR_VERSION}, seed {seed}, {n_tasks} human tasks) so that the "
        "notebooks run end to end without the gated human study `cmu-lti/tau-usi`. No participant, "
        "no real simulator and no real agent produced any of it; numbers computed from it say nothing "
        "about real users or simulators.\n\n"
        "It mimics the layout of `cmu-lti/tau-usi`: `data/tau_bench_tasks_unified.json` (3 batches of "
        f"sessions), `eval_results/` and `survey_data/` for the synthetic simulators {sims}, and "
        "`survey_data/survey_comparable_human-eval-100.json` (a second rating of part of batch 1).\n\n"
        "Regenerate with `python -c \"from usersim_utils import demo; demo.write_demo_panel()\"`; "
        "the same seed gives byte-identical files.\n"
        f"{note}"
    )


def _encode(rel: str, obj: object) -> bytes:
    text = obj if rel.endswith(".md") else json.dumps(obj, ensure_ascii=False, indent=1) + "\n"
    return str(text).encode("utf-8")


def _write_bytes(dest: Path, payload: bytes) -> None:
    atomic_write(dest, lambda tmp: tmp.write_bytes(payload))


def _read_stamp(dest: Path) -> dict[str, Any] | None:
    try:
        stamp = json.loads((dest / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def write_demo_panel(dest: Path = paths.DEMO_STUDY_DIR, *, seed: int = DEMO_SEED,
                     shape: PanelShape = PanelShape(), n_tasks: int | None = None) -> Path:
    """Generate the panel with ``seed`` and write it under ``dest`` (atomically, file by file).

    Writes a stamp (``.demo_stamp.json``: generator version and source hash, seed, size
    and SHA-256 of every file) last, so a crash leaves a panel that :func:`ensure_demo_panel` sees as
    stale. Files that an older stamp listed and the new panel lacks are removed.
    ``n_tasks`` defaults to :data:`DEMO_N_TASKS` (fewer when one domain cannot hold them).
    An unusual ``shape`` (or ``n_tasks``) is recorded in the stamp, and must be written
    under a path containing ``SYNTHETIC`` (the loader labels the data by it).
    Returns ``dest``.
    """
    dest = Path(dest)
    n_tasks = min(DEMO_N_TASKS, shape.max_tasks()) if n_tasks is None else n_tasks
    unusual = shape != PanelShape() or n_tasks != DEMO_N_TASKS
    if unusual and not any("SYNTHETIC" in part for part in dest.resolve().parts):
        raise ValueError(f"an unusual demo study must be written under a path containing SYNTHETIC, not {dest}")
    panel: dict[str, object] = {README_FILE: readme_text(seed, n_tasks, shape)}
    panel |= generate_demo_panel(np.random.default_rng(seed), n_tasks=n_tasks, shape=shape)
    files: dict[str, dict[str, Any]] = {}
    for rel, obj in panel.items():
        payload = _encode(rel, obj)
        _write_bytes(dest / rel, payload)
        files[rel] = {"bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    old = _read_stamp(dest) or {}
    root = dest.resolve()
    for rel in old.get("files", {}):
        stale = (dest / str(rel)).resolve()
        if rel not in files and stale != root and stale.is_relative_to(root):  # never outside dest
            stale.unlink(missing_ok=True)
    stamp = {"generator": "usersim_utils.demo", "generator_version": GENERATOR_VERSION,
             "generator_source_sha256": SOURCE_SHA256, "seed": seed, "synthetic": True, "files": files}
    if unusual:
        stamp["shape"] = {**asdict(shape), "n_tasks": n_tasks}
    _write_bytes(dest / STAMP_FILE, (json.dumps(stamp, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    return dest


def is_current(dest: Path = paths.DEMO_STUDY_DIR, *, seed: int = DEMO_SEED) -> bool:
    """True when ``dest`` holds a complete, unmodified demo panel (default shape) of this
    generator (version and source hash) and seed."""
    stamp = _read_stamp(Path(dest))
    if not stamp or stamp.get("seed") != seed or "shape" in stamp:
        return False
    if stamp.get("generator_version") != GENERATOR_VERSION or stamp.get("generator_source_sha256") != SOURCE_SHA256:
        return False
    files = stamp.get("files")
    if not isinstance(files, dict) or not files:
        return False
    for rel, meta in files.items():
        path = Path(dest) / rel
        try:
            if path.stat().st_size != meta["bytes"] or hashlib.sha256(path.read_bytes()).hexdigest() != meta["sha256"]:
                return False
        except (OSError, KeyError, TypeError):
            return False
    return True


def ensure_demo_panel(dest: Path = paths.DEMO_STUDY_DIR, *, seed: int = DEMO_SEED) -> Path:
    """``dest`` holding the current demo panel: written only when missing, incomplete,
    edited, or made by another generator version or seed. Returns ``dest``."""
    if not is_current(dest, seed=seed):
        write_demo_panel(dest, seed=seed)
    return Path(dest)
