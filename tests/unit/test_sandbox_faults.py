"""Refus de débit aléatoires du bac à sable (throttle_ratio) : indépendants du rythme."""

from __future__ import annotations

import contextvars

import pytest

from crispsandbox.cli import _parser
from crispsandbox.envelope import CrispError
from crispsandbox.faults import FaultOptions, FaultState


def _refusals(state: FaultState, calls: int) -> list[int]:
    statuses = []
    for _ in range(calls):
        if not state.take_token():
            statuses.append(state.rate_limited_response().status)
    return statuses


def test_random_throttling_hits_the_ratio_without_any_rate_limit():
    state = FaultState(FaultOptions().updated({"throttle_ratio": 0.08}), seed=3)
    statuses = _refusals(state, 5000)
    # 400 attendus ; à 5 écarts-types près (écart-type ~19).
    assert 300 <= len(statuses) <= 500
    assert set(statuses) == {420}


def test_random_throttling_status_is_its_own_and_the_bucket_keeps_its_status():
    options = FaultOptions().updated({"throttle_ratio": 1.0, "throttle_status": 429,
                                      "rate_limit": 1, "rate_limit_status": 422})
    state = FaultState(options, seed=1)
    assert set(_refusals(state, 50)) == {429}
    # Sans tirage, le seau (1 req/s) refuse avec son propre statut.
    state.configure({"throttle_ratio": 0})
    assert set(_refusals(state, 50)) == {422}


def test_random_throttling_does_not_drain_the_bucket():
    # Un refus tiré au sort ne consomme pas de jeton : le seau de 5 laisse passer 5 appels.
    state = FaultState(FaultOptions().updated({"rate_limit": 5, "throttle_ratio": 0.5}), seed=2)
    accepted = sum(state.take_token() for _ in range(40))
    assert accepted == 5


@pytest.mark.parametrize("payload", [{"throttle_ratio": 1.5}, {"throttle_status": 500}])
def test_invalid_random_throttling_options_are_refused_in_french(payload):
    with pytest.raises(ValueError, match="throttle_"):
        FaultOptions().updated(payload)


def test_command_line_options():
    args = _parser().parse_args(["--throttle-ratio", "0.08", "--throttle-status", "429"])
    assert (args.throttle_ratio, args.throttle_status) == (0.08, 429)
    assert _parser().parse_args([]).throttle_status == 420


# --- Plan de pannes (fault_plan) : chaque sorte de panne à coup sûr ---------------------------
ONE_MESSAGE = [{"fingerprint": 1, "timestamp": 2}]


def _call(state: FaultState, data: list = ONE_MESSAGE) -> str:
    """Un appel, étape par étape comme le serveur (quota compris : CrispError une fois
    épuisé), dans son propre contexte (comme une tâche aiohttp) ; rend la panne reçue."""
    def steps() -> str:
        spiked = state.delay_seconds() > 0
        if state.should_reset():
            return "reset"
        if not state.take_token():
            return f"refus {state.rate_limited_response().status}"
        state.check_quota()
        failure = state.server_error_response()
        if failure is not None:
            return str(failure.status)
        body = state.success_response(200, data, "messages").body
        text = bytes(body).decode().replace(" ", "")
        if spiked:
            return "pic"
        if not text.endswith("}"):
            return "tronquée"
        if '"error":true' in text:
            return "enveloppe"
        if '"items"' in text:
            return "mauvais type"
        if not data:
            return "ok" if '"data":[]' in text else "abîmée"
        if '"fingerprint"' not in text or '"timestamp"' not in text:
            return "abîmée"
        return "ok"
    return contextvars.copy_context().run(steps)


def test_a_fault_plan_gives_each_planned_fault_exactly_then_the_random_draws_resume():
    plan = ["latency_spike", "reset", "throttle", "error_500", "error_502", "error_503",
            "truncated", "error_envelope", "wrong_type", "broken_messages"]
    # Sans le plan, ces réglages refuseraient chaque appel (seau d'un jeton, 5xx certain).
    state = FaultState(FaultOptions().updated({
        "latency_spike_ms": 1, "rate_limit": 1, "rate_limit_status": 422,
        "throttle_status": 429, "error_rate": 1.0, "fault_plan": plan}), seed=4)
    assert state.planned_left == len(plan)
    got = [_call(state) for _ in plan]
    assert got == ["pic", "reset", "refus 429", "500", "502", "503", "tronquée", "enveloppe",
                   "mauvais type", "abîmée"]
    assert state.planned_left == 0
    # Plan épuisé : le seau a encore son jeton (aucun appel planifié ne l'a pris), puis il
    # refuse (422) ; le tirage des 5xx (certain) reprend.
    assert [_call(state) for _ in range(3)] == ["500", "refus 422", "refus 422"]
    # Un nouveau plan (comme par POST /_admin/faults) repart du début.
    state.configure({"fault_plan": ["reset"], "rate_limit": 0, "error_rate": 0})
    assert [_call(state) for _ in range(2)] == ["reset", "ok"]


@pytest.mark.parametrize("plan", ["reset", ["reset", "panne inconnue"], [500]])
def test_an_invalid_fault_plan_is_refused_in_french(plan):
    with pytest.raises(ValueError, match="fault_plan doit être une liste de pannes parmi"):
        FaultOptions().updated({"fault_plan": plan})


def test_a_planned_fault_that_cannot_be_given_waits_for_the_next_call():
    """Page vide (rien à abîmer) ou quota épuisé (423 avant la panne) : la panne reste en
    tête du plan et va à l'appel suivant."""
    state = FaultState(FaultOptions().updated(
        {"fault_plan": ["broken_messages", "error_502"], "quota": 2}), seed=1)
    assert _call(state, []) == "ok"
    assert state.planned_left == 2
    assert _call(state) == "abîmée"
    assert state.planned_left == 1
    with pytest.raises(CrispError):  # quota de 2 appels épuisé : pas de 502
        _call(state)
    assert state.planned_left == 1
    state.reset_quota()
    assert _call(state, []) == "502" and state.planned_left == 0
