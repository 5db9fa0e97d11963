"""Les fins d'un export (crispscrape/outcome.py) et la ligne « Fin : » (summary.end_text),
sans crawl : code de sortie, arrêt prévu, cause répétée."""

from __future__ import annotations

import pytest

from crispscrape.outcome import ENDINGS, ending_of, failure_text, finish_code, first_sentence
from crispscrape.status import AccountStatus
from crispscrape.summary import end_text, shows_account_state


@pytest.mark.parametrize("reason,code", [
    ("finished", 0), ("quota", 2), ("budget", 2), ("shutdown", 2), ("cancelled", 2),
    ("unauthorized", 1), ("config_error", 1), ("closespider_timeout", 1), (None, 1),
])
def test_finish_code_comes_from_the_ending_table(reason, code):
    assert finish_code({"finish_reason": reason}) == code


def test_a_finished_run_with_failed_resources_is_a_failure():
    assert finish_code({"finish_reason": "finished", "crisp_api/failed": 1}) == 1


def test_every_planned_stop_says_it_is_planned_and_resumes():
    planned = [ending for ending in ENDINGS.values() if ending.resumable]
    assert {ending.reason for ending in planned} == {"quota", "budget", "shutdown", "cancelled"}
    for ending in planned:
        assert "arrêt prévu, reprise au prochain lancement" in ending.text
        assert ending.monitor_text  # le moniteur « Fin normale » sait le dire


def test_a_failure_repeats_its_cause_only_where_the_cause_says_what_to_fix():
    cause = "CRISP_API_URL='x' n'est pas une adresse web complète. Aucun appel n'a été fait."
    assert failure_text("config_error", cause) == ("configuration refusée, aucun appel : "
                                                   "CRISP_API_URL='x' n'est pas une adresse web "
                                                   "complète.")
    assert failure_text("config_error", None) == "configuration refusée, aucun appel (voir plus haut)."
    assert failure_text("unauthorized", "long message") == "identifiants Crisp refusés (HTTP 401)."
    assert first_sentence("Une phrase sans point final") == "Une phrase sans point final"


def test_end_line_never_speaks_of_the_account_after_a_refusal(tmp_path):
    assert not shows_account_state("unauthorized") and shows_account_state("budget")
    assert ending_of("weird").exit_code == 1


def test_end_line_of_a_complete_account_names_failed_attachments(tmp_path):
    status = AccountStatus(tmp_path, listed=1, current=1, history_complete=True,
                           listing_started=True)
    assert end_text("finished", 0, status) == "compte complet et à jour."
    status.files_failed = 4
    assert end_text("finished", 0, status) == ("compte complet, 4 pièces jointes en échec "
                                               "(retentées au prochain lancement).")
    incomplete = AccountStatus(tmp_path, listed=2, never=2, listing_started=True)
    assert end_text("budget", 0, incomplete).endswith("Il reste 2 conversation(s) et la suite "
                                                      "de la liste des conversations.")
