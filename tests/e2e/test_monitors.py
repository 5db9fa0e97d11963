"""Moniteurs Spidermon et validation des objets, sur de vrais crawls contre le bac à sable.

Chaque moniteur échoue quand sa condition est provoquée (pannes du bac à sable, budget) et
passe sinon ; le code de sortie et les lignes françaises du récapitulatif sont vérifiés.
"""

from __future__ import annotations

import json

from tests.e2e.test_account import assert_account_equals_truth, summary
from tests.support.crawling import read_jsonl, run_crawl
from tests.support.files_truth import complete_end

# Réessais courts : une tempête de 5xx ou de 429 se joue en quelques secondes.
FAST = {"RETRY_TIMES": 1, "CRISP_RETRY_BASE_DELAY": 0.01, "CRISP_THROTTLE_BASE_DELAY": 0.01,
        "CRISP_THROTTLE_MAX_DELAY": 0.05, "CRISP_CONVERSATIONS_PER_PAGE": 20}


def recap(log: str, spider: str) -> str:
    start = log.rfind(f"Récapitulatif {spider}")
    assert start >= 0, log[-3000:]
    return log[start:]


def monitor_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("Moniteur")]


def test_every_monitor_passes_on_a_clean_account(sandbox, data_dir):
    result = run_crawl("account", data_dir, sandbox.env(), timeout=300)
    assert result.returncode == 0, result.log[-3000:]
    for step in ("conversations", "messages", "users"):
        assert monitor_lines(recap(result.log, step).split("Récapitulatif", 2)[1]) == \
            ["Moniteurs : 4 réussis."]
    text = summary(result.log)
    assert monitor_lines(text) == ["Moniteurs : 5 réussis."]
    # Les lignes précèdent la dernière (« Fin : »).
    assert text.index("Moniteurs : 5 réussis.") < text.index(complete_end(sandbox))
    assert result.stats["monitors/failed"] == 0 and result.stats["monitors/passed"] == 4
    assert result.stats["spidermon/validation/items"] > 0
    assert "spidermon/validation/items/errors" not in result.stats
    assert not list(data_dir.rglob("*.invalides.jsonl"))
    assert_account_equals_truth(sandbox, data_dir)


def test_resources_failed_after_retries(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=1, conversations=30, error_rate=1.0)
    result = run_crawl("conversations", data_dir, sandbox.env(), settings=FAST)
    assert result.returncode == 1, result.log[-3000:]
    assert monitor_lines(recap(result.log, "conversations")) == [
        "Moniteur Ressources en échec : en échec, 1 ressource(s) en échec après les réessais "
        "(seuil : 0) ; elles seront reprises à la prochaine exécution.",
        "Moniteurs : 3 réussis, 1 en échec."]
    assert result.stats["monitors/failed"] == 1 and result.stats["monitors/exit_code"] == 1


def test_throttle_storm(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=1, conversations=30, throttle_ratio=0.8, throttle_status=429)
    result = run_crawl("conversations", data_dir, sandbox.env(), settings=FAST)
    assert result.returncode == 3, result.log[-3000:]
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    share = stats["crisp_throttle/throttled"] / stats["crisp_api/requests"]
    assert share > 0.5
    assert monitor_lines(recap(result.log, "conversations")) == [
        f"Moniteur Ralentissement : en échec, {stats['crisp_throttle/throttled']} appel(s) "
        f"ralenti(s) (429/420) sur {stats['crisp_api/requests']}, soit {share:.0%} (seuil : 50%).",
        "Moniteurs : 3 réussis, 1 en échec."]
    # Les données n'en souffrent pas : toute la liste est là.
    assert len(read_jsonl(data_dir / "conversations" / "conversations.jsonl")) == 30
    # Le même crawl avec un seuil relevé passe (le seuil est un réglage).
    again = run_crawl("conversations", data_dir, sandbox.env(), args={"reset": 1},
                      settings={**FAST, "CRISP_MONITOR_MAX_THROTTLED_SHARE": 0.99})
    assert again.returncode == 0, again.log[-3000:]
    assert monitor_lines(recap(again.log, "conversations")) == ["Moniteurs : 4 réussis."]


def test_budget_stop(sandbox, data_dir):
    result = run_crawl("conversations", data_dir, sandbox.env(), args={"budget": 1}, settings=FAST)
    assert result.returncode == 2, result.log[-3000:]
    assert result.reason == "budget"
    # Un arrêt par budget est prévu : aucun moniteur n'échoue, la fin le dit, le code 2 reste.
    assert monitor_lines(recap(result.log, "conversations")) == ["Moniteurs : 4 réussis."]
    assert "Fin : budget d'appels atteint, arrêt prévu, reprise au prochain lancement" \
        in recap(result.log, "conversations")
    # Retiré des fins attendues : « Fin normale » échoue (statistiques, actions d'échec), sans
    # ligne « Moniteur … » qui répéterait la dernière ligne ; le code 2 dit toujours « à reprendre ».
    strict = run_crawl("conversations", data_dir, sandbox.env(), args={"budget": 1},
                       settings={**FAST, "SPIDERMON_EXPECTED_FINISH_REASONS": "finished"})
    assert strict.returncode == 2, strict.log[-3000:]
    assert strict.stats["monitors/failed"] == 1
    assert monitor_lines(recap(strict.log, "conversations")) == [
        "Moniteurs : 3 réussis, 1 en échec (la fin de l'exécution, dite ci-dessous)."]


def test_invalid_messages_are_set_aside_counted_and_not_asked_again(sandbox, data_dir):
    assert run_crawl("conversations", data_dir, sandbox.env()).returncode == 0
    sandbox.admin("/_admin/faults", method="POST", json={"invalid_field_ratio": 1.0})
    result = run_crawl("messages", data_dir, sandbox.env())
    assert result.returncode == 3, result.log[-3000:]
    aside = read_jsonl(data_dir / "conversations" / "messages.invalides.jsonl")
    invalid = result.stats["spidermon/validation/items/errors/message"]
    assert len(aside) == invalid == result.stats["spidermon/validation/items/errors"] > 0
    assert monitor_lines(recap(result.log, "messages")) == [
        f"Moniteur Objets non valides : en échec, {invalid} objet(s) non valide(s) mis de côté "
        f"(messages : {invalid}, conversations : 0, profils : 0 ; seuil : 0) : voir les fichiers "
        "*.invalides.jsonl.",
        "Moniteurs : 3 réussis, 1 en échec."]
    truth = {c["session_id"]: {m["fingerprint"]: m for m in
                               sandbox.admin(f"/_admin/truth/messages/{c['session_id']}")}
             for c in sandbox.admin("/_admin/truth/conversations")}
    for record in aside:
        session_id, message = record["session_id"], record["object"]
        assert record["type"] == "message" and record["errors"] == {"session_id": ["Invalid string"]}
        # Mis de côté tel que reçu (la panne n'a touché que session_id)…
        assert message == {**truth[session_id][message["fingerprint"]], "session_id": None}
        # … signalé avec l'identifiant de la conversation, sans le contenu.
        warning = next(line for line in result.log.splitlines()
                       if f"Conversation {session_id} : un message non valide" in line)
        assert "session_id" in warning and json.dumps(message["content"])[1:20] not in warning
    missing = 0
    for session_id, messages in truth.items():
        stored = read_jsonl(data_dir / "conversations" / "messages" / f"{session_id}.jsonl")
        # Jamais écrit comme valide : chaque ligne du fichier est le message vrai…
        assert all(m == messages[m["fingerprint"]] for m in stored)
        # … et rien n'est perdu : ce qui manque au fichier est dans la mise à l'écart (un
        # message abîmé dans une réponse peut arriver intact dans la suivante : il est alors
        # écrit, les lots se chevauchant d'une milliseconde).
        set_aside = {r["object"]["fingerprint"] for r in aside if r["session_id"] == session_id}
        absent = set(messages) - {m["fingerprint"] for m in stored}
        assert absent <= set_aside
        missing += len(absent)
    assert missing > 0
    # Les conversations sont complètes : la suivante ne les redemande pas (pas de boucle).
    sandbox.admin("/_admin/faults", method="POST", json={"invalid_field_ratio": 0})
    sandbox.admin("/_admin/stats/reset", method="POST")
    again = run_crawl("messages", data_dir, sandbox.env())
    assert again.returncode == 0, again.log[-3000:]
    assert sandbox.admin("/_admin/stats")["by_kind"].get("messages", 0) == 0
    assert monitor_lines(recap(again.log, "messages")) == ["Moniteurs : 4 réussis."]


def test_incomplete_account_fails_the_account_monitor(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=1, conversations=30, error_rate=0.3)
    result = run_crawl("account", data_dir, sandbox.env(), settings={**FAST, "RETRY_TIMES": 0},
                       timeout=300)
    assert result.returncode == 1, result.log[-3000:]
    lines = monitor_lines(summary(result.log))
    assert lines[0] == "Moniteur Ressources en échec : en échec, " + lines[0].split(", ", 1)[1]
    assert lines[1].startswith("Moniteur Compte complet : en échec, compte incomplet après une "
                               "exécution menée à son terme : il reste ")
    assert lines[2] == "Moniteurs : 3 réussis, 2 en échec."


def test_periodic_monitors_warn_during_a_long_export(sandbox, data_dir):
    assert run_crawl("conversations", data_dir, sandbox.env()).returncode == 0
    sandbox.admin("/_admin/faults", method="POST", json={"invalid_field_ratio": 1.0, "latency_ms": 30})
    periodic = json.dumps({"crispscrape.monitors.suites.PeriodicMonitors": 0.3})
    result = run_crawl("messages", data_dir, sandbox.env(), settings={
        "SPIDERMON_PERIODIC_MONITORS": periodic, "CONCURRENT_REQUESTS": 2,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2, "AUTOTHROTTLE_TARGET_CONCURRENCY": 2})
    assert result.returncode == 3, result.log[-3000:]
    assert result.stats["monitors/periodic/runs"] >= 2
    assert result.stats["monitors/periodic/failed"] >= 1
    assert "Contrôle périodique : Moniteur Objets non valides : en échec, " in result.log
