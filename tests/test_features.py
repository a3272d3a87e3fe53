"""The 19 features, lexicon by lexicon, on hand-made turns (spec usi.md §2-3)."""

from __future__ import annotations

import re

import pytest

from usersim_utils import features as F


def feats(*user_turns: str, source: str = "llm") -> dict[str, float]:
    conv = [{"role": "assistant", "content": "Hi! How can I help you today?"}]
    for t in user_turns:
        conv += [{"role": "user", "content": t}, {"role": "assistant", "content": "ok."}]
    out = F.conversation_features(conv, source)
    assert out is not None
    return out


# --- each lexicon: a hit and a near miss --------------------------------------------------
@pytest.mark.parametrize(
    ("feature", "hit", "miss"),
    [
        ("politeness_rate", "Thanks, that helps", "thanksgiving is near"),
        ("politeness_rate", "I understand the fee", "i understood the fee"),
        ("emotion_rate", "I am so frustrated", "frustration aside, go on"),
        ("uncertainty_rate", "i dont know, maybe tuesday", "maybelline order"),
        ("uncertainty_rate", "I'm not sure", "im sure"),
        ("certainty_rate", "Definitely the blue one", "definitive answer"),
        ("accusation_rate", "this is useless", "use less luggage"),
        ("pivot_rate", "Actually can we do a refund", "actually, a refund"),
        ("pivot_rate", "I'd rather keep it", "i rather keep it"),
        ("pivot_rate", "could you switch it to friday", "switch off"),
    ],
)
def test_lexicon_hit_and_near_miss(feature: str, hit: str, miss: str) -> None:
    assert feats(hit)[feature] == 1.0
    assert feats(miss)[feature] == 0.0


def test_ack_only_is_anchored_to_the_whole_turn() -> None:
    assert feats("Yes!")["ack_only_rate"] == 1.0
    assert feats("  ok, ")["ack_only_rate"] == 1.0
    assert feats("sounds good.")["ack_only_rate"] == 1.0
    assert feats("go ahead -")["ack_only_rate"] == 1.0
    assert feats("yes please")["ack_only_rate"] == 0.0  # two ACK words: no repetition allowed
    assert feats("ok?")["ack_only_rate"] == 0.0  # '?' is not in the trailing class
    assert feats("yes, my id is 123")["ack_only_rate"] == 0.0


def test_question_classes_count_each_turn_once_in_priority_order() -> None:
    # pushback beats clarify beats info question
    both = "are you sure? what do you mean? how much is it?"
    f = feats(both, "what do you mean by that, how much", "how much is the fee", "fine")
    assert f["pushback_q_rate"] == 0.25
    assert f["clarify_q_rate"] == 0.25
    assert f["info_q_rate"] == 0.25


@pytest.mark.parametrize(
    ("turn", "klass"),
    [
        ("I already told you my zip code", "pushback_q_rate"),
        ("don't ask me for that again", "pushback_q_rate"),
        ("why can't you do it", "pushback_q_rate"),
        ("you said the fee is waived?no way", "clarify_q_rate"),
        ("wait, what fee", "clarify_q_rate"),
        ("which order is it", "clarify_q_rate"),
        ("what's the status of my order", "info_q_rate"),
        ("is there a cheaper flight", "info_q_rate"),
        ("can you check my reservation", "info_q_rate"),
    ],
)
def test_question_class_patterns(turn: str, klass: str) -> None:
    f = feats(turn)
    assert f[klass] == 1.0
    others = {"pushback_q_rate", "clarify_q_rate", "info_q_rate"} - {klass}
    assert all(f[o] == 0.0 for o in others)


def test_wrapped_question_mark_needs_a_word_character_after_it() -> None:
    # Quirk kept from the reference: `\b(...)\b` around `you said .{0,30}\?` needs a
    # word boundary after the '?', so the alternative fires only when a letter follows.
    assert feats("you said the fee is waived?")["clarify_q_rate"] == 0.0
    assert feats("you said the fee is waived? ok")["clarify_q_rate"] == 0.0
    assert feats("you said the fee is waived?no")["clarify_q_rate"] == 1.0


def test_confusion_is_a_conversation_flag() -> None:
    assert feats("hello", "How can I help you today?", "bye")["id_confuse_rate"] == 1.0
    assert feats("let me check my email")["id_confuse_rate"] == 1.0
    assert feats("can you help me")["id_confuse_rate"] == 0.0


def test_id_density_counts_ids_and_any_long_word() -> None:
    # 'mia_li_3668' (user id), '#w1234567' (order id), 'wallet' is a plain 6-letter word (quirk kept)
    assert feats("my id is mia_li_3668")["id_density"] == 1.0
    assert feats("order #W1234567")["id_density"] == 1.0
    assert feats("wallet")["id_density"] == 1.0
    assert feats("a cat")["id_density"] == 0.0
    assert feats("mail me at a@b.co")["id_density"] == 1.0
    assert feats("mia_li_3668", "no")["id_density"] == 0.5


def test_formality_uses_dashes_without_lower_casing() -> None:
    assert feats("fine \u2014 go on")["formality_rate"] == 1.0
    assert feats("fine \u2013 go on")["formality_rate"] == 1.0
    assert feats("fine - go on")["formality_rate"] == 0.0


def test_word_statistics() -> None:
    f = feats("one two three four", "five six", "seven eight nine ten eleven twelve")
    assert f["user_words_per_turn"] == 4.0
    assert f["opening_words"] == 4.0
    assert f["info_frontload"] == pytest.approx(6 / 12)
    assert f["short_msg_rate"] == pytest.approx(1 / 3)
    std = ((0 + 4 + 4) / 3) ** 0.5
    assert f["verbosity_cv"] == pytest.approx(std / 4)
    assert feats("just one turn here")["verbosity_cv"] == 0.0


def test_repeat_rate_needs_a_trigram_more_than_ten_times() -> None:
    assert feats(*["i want a refund"] * 10)["repeat_rate"] == 0.0
    assert feats(*["i want a refund"] * 11)["repeat_rate"] == 1.0
    # counted within a turn too
    assert feats("go go go " * 5)["repeat_rate"] == 1.0  # 13 words -> 11 'go go go'


def test_markup_is_removed_before_counting_words() -> None:
    turn = "<|think|>long\nreasoning<|/think|>yes <function=f><parameter=a>1</parameter></function>"
    f = feats(turn)
    assert f["opening_words"] == 1.0
    assert f["ack_only_rate"] == 1.0
    # an unclosed function call runs to the end of the text
    assert feats("ok <function=book and everything after")["opening_words"] == 1.0
    assert feats("<|tool|>{\"a\": 1}<|/tool|> thanks")["politeness_rate"] == 1.0


def test_meta_messages_are_dropped_per_source() -> None:
    conv = [
        {"role": "user", "content": "\\tau task_index:airline-3 model:gpt-5.2"},
        {"role": "assistant", "content": "<|canvas|>instructions<|/canvas|> Hi!"},
        {"role": "assistant", "content": "Hi! How can I help you today?"},
        {"role": "user", "content": "i need to cancel"},
        {"role": "user", "content": " /stop "},
        {"role": "assistant", "content": "<|survey|>...<|/survey|>"},
        {"role": "user", "content": "\\reward"},
    ]
    human = F.conversation_features(conv, "human")
    assert human is not None and human["n_turns"] == 2 and human["opening_words"] == 4
    # the same messages as a simulator rollout keep the platform's messages
    llm = F.conversation_features(conv, "llm")
    assert llm is not None and llm["n_turns"] == 7
    stop = [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": " ###STOP### "}]
    assert F.conversation_features(stop, "llm") is None  # no user turn left
    assert F.conversation_features([], "human") is None
    assert F.conversation_features([{"role": "user", "content": "/stop"}], "human") is None


def test_unknown_source_is_rejected() -> None:
    with pytest.raises(ValueError, match="source"):
        F.conversation_features([], "bot")  # type: ignore[arg-type]


def test_feature_table_columns_and_flags() -> None:
    records = {
        "retail_1": {"conversation": [{"role": "user", "content": "hi"}], "reward": 1.0},
        "retail_1_ann2": {"conversation": [{"role": "user", "content": "/stop"}], "reward": None, "keep": False},
    }
    t = F.features_table(records, source="human", label="human")
    assert list(t.columns[: len(F.ID_COLUMNS)]) == list(F.ID_COLUMNS)
    assert t["batch"].tolist() == [1, 2]
    assert t["task_key"].tolist() == ["retail_1", "retail_1"]
    assert t["keep"].tolist() == [True, False]
    assert t["success"].tolist() == [1, 0]
    assert t["has_features"].tolist() == [True, False]
    assert t.loc[1, F.FEATURES].isna().all()


def test_lexicons_are_verbatim_from_the_spec(shared_file) -> None:
    text = shared_file("spec/usi.md").read_text()
    found = {}
    for name, rest in re.findall(r"^\* ([A-Z]+)(?: \([^)]*\))?: (.*)$", text, re.M):
        patterns = re.findall(r"`([^`]*)`", rest)
        found[name] = "|".join(patterns)
    assert set(found) == set(F.LEXICONS)
    for name, pattern in F.LEXICONS.items():
        assert pattern == found[name], name
