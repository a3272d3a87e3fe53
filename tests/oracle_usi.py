"""A second, deliberately plain implementation of the User-Sim Index, written
straight from spec usi.md over raw JSON dicts (no pandas, no shared code with the
package except the verbatim lexicon strings).

Tests compare the package against it to 1e-9: two independent readings of the
spec that agree are much stronger evidence than one reading and a stored number.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from usersim_utils import features as F  # lexicon strings only

OPTIONS = {
    "task_success": ["No - Task failed", "No - Due to a policy issue, which the agent clearly explained",
                     "Partially - Some progress", "Yes - Task completed", "Fully - Exceeded expectations"],
    "efficiency": ["Very inefficient - Too many steps", "Somewhat inefficient", "About right", "Very efficient"],
    "question_amount_preference": ["Too many", "About right", "Too few"],
    "answer_effort_time": ["High", "Medium", "Low"],
    "human_like": ["No", "Partially", "Yes"],
    "interaction_flow": ["Not smooth", "OK", "Smooth", "Excellent"],
    "overall_score": ["1 (Very poor)", "2 (Poor)", "3 (Acceptable)", "4 (Good)", "5 (Excellent)"],
    "reuse": ["Absolutely no", "No", "Maybe", "Yes", "Absolutely yes"],
}
VALUES = {f: list(range(1, len(o) + 1)) for f, o in OPTIONS.items()}
VALUES["question_amount_preference"] = [1, 2, 1]

D1 = ["politeness_rate", "short_msg_rate", "formality_rate", "ack_only_rate", "verbosity_cv", "repeat_rate",
      "id_confuse_rate"]
D2 = ["info_frontload", "id_density", "user_words_per_turn", "opening_words"]
D3 = ["uncertainty_rate", "certainty_rate", "pushback_q_rate", "clarify_q_rate", "info_q_rate"]
D4 = ["emotion_rate", "accusation_rate", "pivot_rate"]
NOT_SCALED = ["verbosity_cv", "id_density", "user_words_per_turn", "opening_words"]


def w(p):
    return r"\b(" + p + r")\b"


def features(conv, source):
    msgs = []
    for m in conv:
        c = m["content"]
        if source == "human":
            if c.startswith("\\tau ") or c.startswith("\\reward"):
                continue
            if "<|canvas|>" in c or "<|highlight|>" in c or "<|survey|>" in c:
                continue
            if c.strip() == "/stop":
                continue
        else:
            if c.strip() == "###STOP###":
                continue
        msgs.append(m)
    if not msgs:
        return None
    turns = []
    for m in msgs:
        if m["role"] != "user":
            continue
        t = re.sub(r"<\|think\|>.*?<\|/think\|>", "", m["content"], flags=re.S)
        t = re.sub(r"<function=.*?(</function>|$)", "", t, flags=re.S)
        t = re.sub(r"<\|tool\|>.*?<\|/tool\|>", "", t, flags=re.S)
        turns.append(t)
    if not turns:
        return None
    n = len(turns)
    low = [t.lower() for t in turns]
    wc = [len(t.split()) for t in turns]
    W = sum(wc)

    def rate(p):
        return sum(1 for t in low if re.search(w(p), t)) / n

    tri = Counter()
    for t in low:
        ws = t.split()
        for i in range(len(ws) - 2):
            tri[(ws[i], ws[i + 1], ws[i + 2])] += 1
    mean = sum(wc) / n
    q = [0, 0, 0]
    for t in low:
        for i, p in enumerate([F.PUSHBACK, F.CLARIFY, F.INFOQ]):
            if re.search(w(p), t):
                q[i] += 1
                break
    ids = "|".join(F.IDS_ALTERNATIVES)
    return {
        "politeness_rate": rate(F.POLITE),
        "short_msg_rate": sum(1 for x in wc if x <= 3) / n,
        "formality_rate": sum(1 for t in turns if "\u2014" in t or "\u2013" in t) / n,
        "ack_only_rate": sum(1 for t in low if re.search(r"^(" + F.ACK + r")[\s!.\-,]*$", t.strip())) / n,
        "verbosity_cv": (float(np.std(wc)) / mean) if mean else 0.0,
        "repeat_rate": 1.0 if any(v > 10 for v in tri.values()) else 0.0,
        "id_confuse_rate": 1.0 if any(re.search(w(F.CONFUSE), t) for t in low) else 0.0,
        "info_frontload": (wc[0] + (wc[1] if n > 1 else 0)) / W if W else 0.0,
        "id_density": sum(len(re.findall(ids, t)) for t in low) / n,
        "user_words_per_turn": mean,
        "opening_words": wc[0],
        "uncertainty_rate": rate(F.UNCERTAIN),
        "certainty_rate": rate(F.CERTAIN),
        "pushback_q_rate": q[0] / n,
        "clarify_q_rate": q[1] / n,
        "info_q_rate": q[2] / n,
        "emotion_rate": rate(F.EMOTION),
        "accusation_rate": rate(F.ACCUSE),
        "pivot_rate": rate(F.PIVOT),
        "n_turns": len(msgs),
    }


def row(recs, source):
    fs = [features(r["conversation"], source) for r in recs]
    fs = [f for f in fs if f is not None]
    out = {}
    for k in D1 + D2 + D3 + D4:
        v = sum(f[k] for f in fs) / len(fs)
        out[k] = v if k in NOT_SCALED else v * 100
    return out


def dice(h, m):
    h, m = abs(h), abs(m)
    return 1.0 if h + m == 0 else 2 * min(h, m) / (h + m)


def dims(hr, mr):
    return [100 * sum(dice(hr[k], mr[k]) for k in g) / len(g) for g in (D1, D2, D3, D4)]


def batch_of(key):
    if key.endswith("_ann2"):
        return key[:-5], 2
    if key.endswith("_ann3"):
        return key[:-5], 3
    return key, 1


def kept(r):
    return r.get("keep", True) is not False


def succ(r):
    return 1 if (r.get("reward") or 0) > 0 else 0


def tkey(k):
    m = re.match(r"^((airline|retail)_\d+)", k)
    return m.group(1)


def difficulty(sim_files):
    tot, cnt = Counter(), Counter()
    for f in sim_files:
        for k, r in f.items():
            if kept(r):
                tot[tkey(k)] += succ(r)
                cnt[tkey(k)] += 1
    return {t: tot[t] / cnt[t] for t in cnt if cnt[t] >= 10}


def bin_of(v):
    return 0 if v < 0.2 else 1 if v < 0.4 else 2 if v < 0.6 else 3 if v < 0.8 else 4


def ece(sm, hm, diff):
    tasks = [t for t in sm if t in hm and t in diff]
    if not tasks:
        return None
    tot = 0.0
    for b in range(5):
        tb = [t for t in tasks if bin_of(diff[t]) == b]
        if tb:
            tot += len(tb) / len(tasks) * abs(sum(sm[t] for t in tb) / len(tb) - sum(hm[t] for t in tb) / len(tb))
    return tot


def norm(f, v):
    return (v - min(VALUES[f])) / (max(VALUES[f]) - min(VALUES[f]))


def val(f, a):
    if isinstance(a, str) and a in OPTIONS[f]:
        return VALUES[f][OPTIONS[f].index(a)]
    return None


def ans(s, f):
    if not isinstance(s, dict):
        return None
    e = s.get(f)
    return e.get("answer") if isinstance(e, dict) else e


def agree(H, L, rng):
    d = []
    for f in OPTIONS:
        h = val(f, ans(H, f))
        if h is None:
            continue
        s = val(f, ans(L, f))
        if s is None:
            s = rng.choice(sorted(set(VALUES[f])))
        d.append(abs(norm(f, h) - norm(f, s)))
    return None if not d else 100 * (1 - sum(d) / len(d))


def sim_eval(human, surveys):
    if surveys is None:
        return None
    rng = np.random.default_rng(42)
    vals = []
    for b in (1, 2, 3):
        hb = {batch_of(k)[0]: r for k, r in human.items() if batch_of(k)[1] == b and kept(r)}
        sb = {batch_of(k)[0]: r for k, r in surveys.items() if batch_of(k)[1] == b}
        a = [agree(hb[i].get("survey"), sb[i].get("survey"), rng) for i in sorted(set(hb) & set(sb))]
        a = [x for x in a if x is not None]
        if a:
            vals.append(sum(a) / len(a))
    return (float(np.mean(vals)), float(np.std(vals))) if vals else None


def ceiling_eval(human, rerating):
    rng = np.random.default_rng(42)
    b1 = {k: r for k, r in human.items() if batch_of(k)[1] == 1 and kept(r)}
    a = [agree(b1[k].get("survey"), r.get("survey"), rng) for k, r in rerating.items() if k in b1]
    a = [x for x in a if x is not None]
    return (float(np.mean(a)), float(np.std(a))) if a else None


def cell(xs):
    xs = [x for x in xs if x is not None]
    return (float(np.mean(xs)), float(np.std(xs))) if xs else None


def usi_of(d, e, ev):
    if e is None:
        return None
    if ev is not None:
        return (sum(d) + ev[0] + 100 * (1 - e)) / 6
    return (sum(d) + 100 * (1 - e)) / 5


def cells(per, ev):
    out = {f"D{i + 1}": cell([p[0][i] for p in per]) for i in range(4)}
    out.update(eval=ev, ece=cell([p[1] for p in per]), usi=cell([p[2] for p in per]))
    return out


def split_runs(sim):
    """The reference split: {run: {task: value}} by the key's run suffix above 170 rollouts
    (keys without one go to run "0"), else one run."""
    if len(sim) > 170:
        runs = {}
        for k in sim:
            head, tail = k.rsplit("_", 1)
            if tail in ("1", "2", "3"):
                runs.setdefault(tail, {})[head] = sim[k]
            else:
                runs.setdefault("0", {})[k] = sim[k]
    else:
        runs = {"1": dict(sim)}
    return runs


def score_sim(human, sim, diff, ev):
    runs = split_runs(sim)
    ece_runs = {}
    for k, r in sim.items():
        if not kept(r):
            continue
        run = k.rsplit("_", 1)[1] if re.match(r"^(airline|retail)_\d+_\d+", k) else "1"
        ece_runs.setdefault(run, {})[tkey(k)] = succ(r)
    per = []
    for b in (1, 2, 3):
        hb = {batch_of(k)[0]: r for k, r in human.items() if batch_of(k)[1] == b and kept(r)}
        rows, union = [], set()
        for run in runs.values():
            o = [i for i, r in run.items() if kept(r) and i in hb]
            if not o:
                continue
            rows.append(row([run[i] for i in o], "llm"))
            union.update(o)
        if not rows:
            continue
        hr = row([hb[i] for i in sorted(union)], "human")
        pooled = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
        d = dims(hr, pooled)
        hm = {i: succ(r) for i, r in hb.items()}
        es = [ece(m, hm, diff) for m in ece_runs.values()]
        es = [e for e in es if e is not None]
        e = sum(es) / len(es) if es else None
        per.append((d, e, usi_of(d, e, ev)))
    return cells(per, ev)


def score_human(human, diff, ev):
    per = []
    for a, b in ((1, 2), (1, 3), (2, 3)):
        ha = {batch_of(k)[0]: r for k, r in human.items() if batch_of(k)[1] == a and kept(r)}
        hb = {batch_of(k)[0]: r for k, r in human.items() if batch_of(k)[1] == b and kept(r)}
        common = sorted(set(ha) & set(hb))
        if not common:
            continue
        d = dims(row([ha[i] for i in common], "human"), row([hb[i] for i in common], "human"))
        e = ece({i: succ(ha[i]) for i in common}, {i: succ(hb[i]) for i in common}, diff)
        per.append((d, e, usi_of(d, e, ev)))
    return cells(per, ev)
