"""The verdict rules, one case per branch, with the numbers in the reason."""

from __future__ import annotations

import pytest

from rlopt.report.verdict import DECISIONS, decide


def _m(diff, p, control=0.02):
    return {"control": control, "treatment": control + diff, "diff": diff, "ci_low": diff - 0.001,
            "ci_high": diff + 0.001, "pvalue": p, "relative_lift": diff / control}


def _ab(primary, ctr=None):
    return {"primary_metric": "purchase_rate", "metrics": {"purchase_rate": primary, "ctr": ctr or _m(0.0, 0.8)}}


GOOD = dict(misleading_rate=0.0, over_limit=0)


@pytest.mark.parametrize(
    ("ab", "guards", "decision", "reason"),
    [
        (_ab(_m(0.004, 1e-4)), GOOD, "ship", r"significant lift on purchase_rate 0\.02 -> 0\.024.*p=0\.0001"),
        (_ab(_m(-0.004, 1e-4)), GOOD, "do not ship", r"significantly worse"),
        (_ab(_m(0.004, 0.2)), GOOD, "inconclusive", r"no significant difference at alpha=0\.05.*p=0\.2"),
        (_ab(_m(-0.004, 0.2)), GOOD, "inconclusive", r"no significant difference"),
        (_ab(_m(0.004, 1e-4), ctr=_m(-0.01, 1e-3, 0.08)), GOOD, "do not ship", r"CTR is significantly down"),
        (_ab(_m(0.004, 1e-4), ctr=_m(-0.01, 0.3, 0.08)), GOOD, "ship", r"guards hold"),
        (_ab(_m(0.004, 1e-4)), dict(misleading_rate=0.02, over_limit=0), "do not ship", r"misleading-claim rate 2\.0% exceeds the 1% limit"),
        (_ab(_m(0.004, 1e-4)), dict(misleading_rate=0.01, over_limit=0), "ship", r"misleading 1\.0%"),
        (_ab(_m(0.004, 1e-4)), dict(misleading_rate=0.0, over_limit=3), "do not ship", r"3 tuned copies are over"),
        (_ab(_m(0.004, 1e-4)), dict(misleading_rate=None, over_limit=0), "inconclusive", r"not measured: misleading-claim rate"),
        (_ab(_m(0.0, 0.9)), dict(misleading_rate=0.5, over_limit=0), "do not ship", r"guard failed"),
        (None, GOOD, "inconclusive", r"no A/B result to decide on: ab stage blocked"),
        # the claim guard: measured and over the limit fails; at the limit or unmeasured does not
        (_ab(_m(0.004, 1e-4)), dict(**GOOD, unbacked={"rate": 0.05, "top": {"loved by": 9, "10000": 4}}), "do not ship",
         r"5\.0% of tuned copies state a claim .* \(most: loved by \(9\), 10000 \(4\)\), above the 1% limit"),
        (_ab(_m(0.004, 1e-4)), dict(**GOOD, unbacked={"rate": 0.01, "top": {}}), "ship", r"unbacked claims 1\.0%"),
        (_ab(_m(0.004, 1e-4)), dict(**GOOD, unbacked={"rate": float("nan"), "top": {}}), "ship", r"guards hold"),
    ],
)
def test_decide(ab, guards, decision, reason):
    verdict = decide(ab, **guards, unavailable_reason="ab stage blocked")
    assert verdict.decision == decision
    assert verdict.decision in DECISIONS
    assert pytest.importorskip("re").search(reason, verdict.reason), verdict.reason
    assert verdict.sentence().startswith(f"Verdict: {decision} — ") and verdict.sentence().endswith(".")


def test_alpha_is_respected():
    ab = _ab(_m(0.004, 0.03))
    assert decide(ab, **GOOD, alpha=0.05).decision == "ship"
    assert decide(ab, **GOOD, alpha=0.01).decision == "inconclusive"


def test_the_claim_guard_limit_is_a_setting_and_applies_on_the_users_logs():
    from rlopt.report.verdict import decide_predicted

    over = {"rate": 0.04, "top": {"free shipping": 7}}
    assert decide(_ab(_m(0.004, 1e-4)), **GOOD, unbacked=over, max_unbacked_rate=0.05).decision == "ship"
    up = {"lift": 0.12, "low": 0.05, "high": 0.2, "n_contexts": 40, "ab_sample_size_per_arm": 52000}
    v = decide_predicted(up, {"status": "ok"}, unbacked=over)
    assert v.decision == "do not ship" and "free shipping (7)" in v.reason
    assert decide_predicted(up, {"status": "ok"}, unbacked=over, max_unbacked_rate=0.05).decision == "candidate"
