"""Refus de débit aléatoires du bac à sable (throttle_ratio) : indépendants du rythme."""

from __future__ import annotations

import pytest

from crispsandbox.cli import _parser
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
