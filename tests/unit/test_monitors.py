"""Règles des moniteurs, validation des objets et code de sortie, sans crawl.

Les règles tournent dans le vrai lanceur de Spidermon (MonitorRunner), sur des statistiques
écrites à la main ; les crawls réels qui les déclenchent sont dans tests/e2e/test_monitors.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from scrapy.settings import Settings
from spidermon.runners import MonitorRunner

from crispscrape.addon import CrispAddon
from crispscrape.outcome import exit_code
from crispscrape.monitors.whole_account import account_stats
from crispscrape.monitors.suites import AccountMonitors
from crispscrape.validation.pipeline import KINDS, KNOWN_MESSAGES
from spidermon.contrib.validation import JSONSchemaValidator

CLEAN = {"finish_reason": "finished", "crisp_api/requests": 100}
COMPLETE = {"complete": True, "remaining": "rien", "limited": False}


def run(stats: dict, account: dict = COMPLETE, **settings):
    values = Settings()
    CrispAddon().update_settings(values)
    for name, value in settings.items():
        values.set(name, value)
    crawler = SimpleNamespace(settings=values, stats=None, spider=None)
    suite = AccountMonitors(crawler=crawler)
    MonitorRunner().run(suite, stats=stats, crawler=crawler, spider=None, stats_history=[],
                        job=None, account=account)
    return suite.outcome


def failing(outcome) -> list[str]:
    return [line for line in outcome.lines if line.startswith("Moniteur ")]


def test_clean_run_passes_every_monitor():
    outcome = run(CLEAN)
    assert (outcome.passed, outcome.failed, outcome.exit_code) == (5, 0, 0)
    assert outcome.lines == ["Moniteurs : 5 réussis."]


def test_failed_resources_fail_with_code_1_and_threshold_setting():
    outcome = run({**CLEAN, "crisp_api/failed": 2})
    assert failing(outcome) == [
        "Moniteur Ressources en échec : en échec, 2 ressource(s) en échec après les réessais "
        "(seuil : 0) ; elles seront reprises à la prochaine exécution."]
    assert outcome.exit_code == 1 and outcome.lines[-1] == "Moniteurs : 4 réussis, 1 en échec."
    assert run({**CLEAN, "crisp_api/failed": 2}, CRISP_MONITOR_MAX_FAILED=2).failed == 0


def test_throttled_share_is_throttled_over_calls():
    assert run({**CLEAN, "crisp_throttle/throttled": 50}).failed == 0  # 50 % : au seuil
    outcome = run({**CLEAN, "crisp_throttle/throttled": 51})
    assert failing(outcome) == ["Moniteur Ralentissement : en échec, 51 appel(s) ralenti(s) "
                                "(429/420) sur 100, soit 51% (seuil : 50%)."]
    assert outcome.exit_code == 3
    assert run({"finish_reason": "finished"}).failed == 0  # aucun appel : rien à diviser


def test_planned_stop_passes_the_stop_monitor_by_default_and_keeps_code_2():
    incomplete = {"complete": False, "remaining": "3 conversation(s)", "limited": False}
    # Un arrêt par budget est prévu (un premier export se fait en plusieurs jours) : aucun
    # moniteur n'échoue ; le code 2 vient de la fin du crawl (exit_code, ci-dessous).
    outcome = run({**CLEAN, "finish_reason": "budget"}, incomplete)
    assert (outcome.failed, outcome.lines) == (0, ["Moniteurs : 5 réussis."])
    assert exit_code({**CLEAN, "finish_reason": "budget", "monitors/exit_code": 0}) == 2
    # Retiré des fins attendues, il fait échouer « Fin normale » (actions d'échec), sans
    # ligne : la dernière ligne du récapitulatif dit déjà la fin.
    strict = run({**CLEAN, "finish_reason": "budget"}, incomplete,
                 SPIDERMON_EXPECTED_FINISH_REASONS=["finished"])
    assert (strict.failed, strict.exit_code, failing(strict)) == (1, 2, [])
    assert strict.lines == ["Moniteurs : 4 réussis, 1 en échec (la fin de l'exécution, dite "
                            "ci-dessous)."]


def test_a_failure_end_fails_the_stop_monitor_without_repeating_the_end_line():
    outcome = run({**CLEAN, "finish_reason": "unauthorized"})
    assert (outcome.failed, outcome.exit_code, failing(outcome)) == (1, 2, [])
    assert exit_code({"finish_reason": "unauthorized", "monitors/exit_code": 2}) == 1


def test_an_unknown_end_is_named_by_the_stop_monitor():
    outcome = run({**CLEAN, "finish_reason": "closespider_timeout"})
    assert failing(outcome) == ["Moniteur Fin normale : en échec, exécution finie par "
                                "« closespider_timeout » ; attendu : finished, budget, quota, "
                                "shutdown, cancelled, live_stopped "
                                "(SPIDERMON_EXPECTED_FINISH_REASONS)."]


def test_account_incomplete_after_a_finished_run_fails_unless_nb_limited_it():
    incomplete = {"complete": False, "remaining": "3 conversation(s)", "limited": False}
    outcome = run(CLEAN, incomplete)
    assert failing(outcome) == ["Moniteur Compte complet : en échec, compte incomplet après une "
                                "exécution menée à son terme : il reste 3 conversation(s)."]
    assert outcome.exit_code == 3
    assert run(CLEAN, {**incomplete, "limited": True}).failed == 0


def test_invalid_objects_are_counted_by_kind():
    outcome = run({**CLEAN, "spidermon/validation/items/errors": 3,
                   "spidermon/validation/items/errors/message": 2,
                   "spidermon/validation/items/errors/profile": 1})
    assert failing(outcome) == [
        "Moniteur Objets non valides : en échec, 3 objet(s) non valide(s) mis de côté (messages : "
        "2, conversations : 0, profils : 1 ; seuil : 0) : voir les fichiers *.invalides.jsonl."]


@pytest.mark.parametrize("stats,code", [
    ({"finish_reason": "finished", "monitors/exit_code": 3}, 3),
    ({"finish_reason": "budget", "monitors/exit_code": 3}, 2),
    ({"finish_reason": "budget", "monitors/exit_code": 2}, 2),
    ({"finish_reason": "finished", "crisp_api/failed": 1, "monitors/exit_code": 3}, 1),
    ({"finish_reason": "finished", "monitors/exit_code": 0}, 0),
])
def test_exit_code_is_the_most_severe_of_finish_and_monitors(stats, code):
    assert exit_code(stats) == code


def test_account_stats_add_counters_and_keep_the_first_abnormal_end():
    stats = account_stats([("conversations", {"finish_reason": "finished", "crisp_api/requests": 2,
                                              "monitors/failed": 1, "x": True}),
                           ("messages", {"finish_reason": "budget", "crisp_api/requests": 5}),
                           ("users", {"finish_reason": "budget"})])
    assert stats == {"finish_reason": "budget", "crisp_api/requests": 7}


MESSAGE = {"session_id": "session_1", "fingerprint": 123, "timestamp": 1700000000000,
           "type": "text", "from": "user", "content": "Bonjour", "extra": {"any": 1}}


@pytest.mark.parametrize("change,field", [
    ({"fingerprint": "123"}, "fingerprint"), ({"timestamp": 1.5}, "timestamp"),
    ({"timestamp": True}, "timestamp"), ({"session_id": None}, "session_id"),
    ({"from": ""}, "from"),
])
def test_message_schema_requires_what_the_exporter_relies_on(change, field):
    validator = JSONSchemaValidator(KINDS["message"][0])
    assert validator.validate(MESSAGE) == (True, {})
    ok, errors = validator.validate({**MESSAGE, **change})
    assert not ok and field in errors
    ok, errors = validator.validate({k: v for k, v in MESSAGE.items() if k != field})
    assert not ok and list(errors) == [field]


def test_conversation_and_profile_schemas():
    conversation = JSONSchemaValidator(KINDS["conversation"][0])
    good = {"session_id": "session_1", "updated_at": 1, "active": {"now": False, "last": 2},
            "meta": {"email": None}, "preview_message": None}
    assert conversation.validate(good)[0]
    assert list(conversation.validate({**good, "active": {"last": "hier"}})[1]) == ["active.last"]
    profile = JSONSchemaValidator(KINDS["profile"][0])
    assert profile.validate({"email": "a@b.c", "person": {"nickname": "A"}})[0]
    ok, errors = profile.validate({"email": "secret-sans-arobase", "segments": "x"})
    assert not ok and sorted(errors) == ["email", "segments"]
    # Le message d'erreur ne cite jamais la valeur : seuls ceux traduits par Spidermon passent.
    assert all(m in KNOWN_MESSAGES for found in errors.values() for m in found)


VALUES = [None, "", "x", "a@b", 0, -1, 5, 1.0, True, [], {}, {"last": "x"}, {"last": 1},
          {"email": 3}, {"email": None}, {"fingerprint": "1"}]


@pytest.mark.parametrize("kind,base", [
    ("message", MESSAGE),
    ("conversation", {"session_id": "s", "updated_at": 1, "active": {"last": 2},
                      "meta": {"email": "a@b"}, "preview_message": {"fingerprint": 1}}),
    ("profile", {"email": "a@b", "people_id": "p", "person": {}, "segments": [], "created_at": 1}),
])
def test_fast_check_never_accepts_what_jsonschema_refuses(kind, base):
    from jsonschema import Draft202012Validator

    from crispscrape.validation.fastpath import compile_check
    schema = KINDS[kind][0]
    fast, full = compile_check(schema), Draft202012Validator(schema)
    assert fast(base) and full.is_valid(base)  # le cas courant prend bien le chemin rapide
    candidates = [{k: v for k, v in base.items() if k != name} for name in base]
    candidates += [{**base, name: value} for name in base for value in VALUES]
    candidates += [None, [], "x", 3]
    for candidate in candidates:
        if fast(candidate):
            assert full.is_valid(candidate), candidate
    assert sum(not fast(c) for c in candidates) > len(base)
