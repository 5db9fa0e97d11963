"""``scrapy crawl account`` : tout le compte en une commande, sous un budget d'appels, et un
état du compte qui dit la vérité. Vrais crawls contre le bac à sable."""

from __future__ import annotations

import json
import random

from tests.e2e.test_users import expected_profiles
from tests.support.crawling import ROOT, read_jsonl, run_crawl
from tests.support.messages_support import assert_matches_truth, calls_by_session
from tests.support.files_truth import complete_end

BIG = 400  # messages ajoutés à une conversation : dix lots, coupés par le budget


def summary(log: str) -> str:
    start = log.rfind("Récapitulatif account")
    assert start >= 0, log[-3000:]
    return log[start:]


def stats(sandbox):
    return sandbox.admin("/_admin/stats")


def reset(sandbox):
    sandbox.admin("/_admin/stats/reset", method="POST")


def account(sandbox, data_dir, **args):
    return run_crawl("account", data_dir, sandbox.env(), args=args, timeout=300)


def assert_account_equals_truth(sandbox, data_dir):
    conversations = sandbox.admin("/_admin/truth/conversations")
    stored = read_jsonl(data_dir / "conversations" / "conversations.jsonl")
    assert sorted(c["session_id"] for c in stored) == sorted(c["session_id"] for c in conversations)
    assert_matches_truth(sandbox, data_dir, [c["session_id"] for c in conversations])
    profiles = read_jsonl(data_dir / "utilisateurs" / "utilisateurs.jsonl")
    assert profiles == expected_profiles(sandbox, conversations)


def test_one_command_exports_the_whole_account_then_costs_one_list_page(sandbox, data_dir):
    result = account(sandbox, data_dir)
    assert result.returncode == 0, result.log[-3000:]
    text = summary(result.log)
    assert "Étape conversations" in text and "Étape messages" in text and "Étape users" in text
    assert text.index("Étape conversations") < text.index("Étape messages") < text.index("Étape users")
    assert complete_end(sandbox) in text
    assert_account_equals_truth(sandbox, data_dir)
    # Rien de nouveau : une page de liste, aucun appel de messages ni de profil.
    reset(sandbox)
    again = account(sandbox, data_dir)
    assert again.returncode == 0, again.log[-3000:]
    by_kind = stats(sandbox)["by_kind"]
    assert by_kind.get("conversations") == 1
    assert by_kind.get("messages", 0) == 0 and by_kind.get("people", 0) == 0
    assert complete_end(sandbox) in summary(again.log)


def test_small_budget_over_several_runs_with_new_activity_ends_equal_to_truth(sandbox_factory,
                                                                               data_dir):
    """Un compte de 500 conversations, 250 appels par exécution, de l'activité entre les
    exécutions : chaque exécution s'arrête proprement (code 2) au budget, sans jamais le
    dépasser, et la suite reprend sans rien perdre ni dupliquer, y compris au milieu d'une
    longue conversation ; à la fin, le compte est complet et égal à la vérité."""
    sandbox = sandbox_factory(seed=5, conversations=500)
    rng = random.Random(5)
    ids = [c["session_id"] for c in sandbox.admin("/_admin/truth/conversations")]
    sandbox.admin(f"/_admin/conversations/{ids[0]}/messages", method="POST", json={"count": BIG})
    codes = []
    for run in range(40):
        reset(sandbox)
        result = account(sandbox, data_dir, budget=250)
        assert result.returncode in (0, 2), result.log[-3000:]
        assert stats(sandbox)["calls"] <= 250
        codes.append(result.returncode)
        if result.returncode == 2:
            assert "Fin : budget d'appels atteint, arrêt prévu, reprise au prochain lancement" in summary(result.log)
            assert "Appels encore nécessaires (estimation)" in summary(result.log)
        elif run >= 3:
            break
        if run < 3:
            # Le compte vit : des messages arrivent, une conversation est créée.
            for session_id in rng.sample(ids, 3):
                sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                              json={"count": rng.randint(1, 5)})
            sandbox.admin("/_admin/conversations", method="POST", json={"count": 1})
    assert codes[0] == 2 and codes[-1] == 0, codes
    assert_account_equals_truth(sandbox, data_dir)


def test_budget_stop_inside_a_long_conversation_loses_nothing(sandbox, data_dir):
    ids = [c["session_id"] for c in sandbox.admin("/_admin/truth/conversations")]
    sandbox.admin(f"/_admin/conversations/{ids[0]}/messages", method="POST", json={"count": BIG})
    first = run_crawl("conversations", data_dir, sandbox.env())
    assert first.returncode == 0
    reset(sandbox)
    stopped = run_crawl("messages", data_dir, sandbox.env(), args={"budget": 4},
                        settings={"CONCURRENT_REQUESTS": 1})
    assert stopped.returncode == 2 and stopped.reason == "budget", stopped.log[-3000:]
    assert stats(sandbox)["calls"] == 4
    state = json.loads((data_dir / "conversations" / "messages" /
                        "messages.jsonl.state.json").read_text())
    assert ids[0] in state["incomplete"]
    done = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100})
    assert done.returncode == 0, done.log[-3000:]
    assert_matches_truth(sandbox, data_dir, ids)
    assert calls_by_session(sandbox)[ids[0]] <= 4 + 11  # rien n'est redemandé deux fois


def test_dry_run_needs_no_credentials_and_makes_no_call(sandbox, data_dir):
    assert account(sandbox, data_dir, budget=20).returncode == 2
    reset(sandbox)
    env = {"CRISP_API_URL": sandbox.env()["CRISP_API_URL"]}  # aucun identifiant
    result = run_crawl("account", data_dir, env, args={"dry_run": 1})
    assert result.returncode == 0, result.log[-3000:]
    assert stats(sandbox)["calls"] == 0
    text = result.log[result.log.rfind("Récapitulatif account (dry_run"):]
    assert "Conversations listées : 30" in text
    assert "Appels encore nécessaires (estimation)" in text


def test_unknown_account_argument_is_refused(sandbox, data_dir):
    result = account(sandbox, data_dir, nbr=3)
    assert result.returncode == 1
    assert "Argument inconnu : -a nbr" in result.log
    assert stats(sandbox)["calls"] == 0


def test_status_command_says_where_the_account_stands_without_any_call(sandbox, data_dir):
    import subprocess
    import sys

    from tests.support.crawling import crawl_env
    assert account(sandbox, data_dir, budget=12).returncode == 2
    reset(sandbox)
    env = crawl_env({"CRISP_API_URL": sandbox.env()["CRISP_API_URL"]}, data_dir)
    done = subprocess.run([sys.executable, "-m", "scrapy", "status"], env=env, text=True,
                          capture_output=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "Conversations listées : 30" in done.stdout and "Fin : il reste" in done.stdout
    assert stats(sandbox)["calls"] == 0


def test_progress_lines_give_done_total_rate_and_eta(sandbox_factory, data_dir):
    """Une ligne au plus toutes les CRISP_PROGRESS_SECONDS, et les mêmes chiffres dans les
    statistiques (lisibles en direct par JSON-RPC)."""
    sandbox = sandbox_factory(seed=1, conversations=30, latency_ms=100)
    assert run_crawl("conversations", data_dir, sandbox.env()).returncode == 0
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100},
                       settings={"CRISP_PROGRESS_SECONDS": "0.5", "CONCURRENT_REQUESTS": 2,
                                 "CONCURRENT_REQUESTS_PER_DOMAIN": 2})
    assert result.returncode == 0, result.log[-3000:]
    lines = [line for line in result.log.splitlines() if "Progression messages :" in line]
    assert lines, result.log[-3000:]
    assert "/30 conversations (" in lines[0] and "fin estimée dans" in lines[0]
    assert result.stats["progress/total"] == 30 and result.stats["progress/done"] == 30
    assert result.stats["progress/unit"] == "conversations"


def test_an_edited_last_message_refreshes_its_list_line_and_its_file(sandbox, data_dir):
    """Le dernier message modifié change l'aperçu de la conversation dans la liste
    (``last_message``, ``preview_message``) sans toucher ``updated_at`` ni ``active.last`` :
    la ligne est quand même remplacée, et son empreinte changée fait relire les messages
    (trouvé par le banc de la mauvaise journée du direct)."""
    assert account(sandbox, data_dir).returncode == 0
    session_id = sandbox.admin("/_admin/truth/conversations")[0]["session_id"]  # page 1
    newest = max(sandbox.admin(f"/_admin/truth/messages/{session_id}"),
                 key=lambda m: m["timestamp"])
    sandbox.admin(f"/_admin/conversations/{session_id}/messages/{newest['fingerprint']}/edit",
                  method="POST", json={"content": "Dernier message modifié"})
    reset(sandbox)
    again = account(sandbox, data_dir)
    assert again.returncode == 0, again.log[-3000:]
    listed = {c["session_id"]: c for c in read_jsonl(data_dir / "conversations" / "conversations.jsonl")}
    truth = {c["session_id"]: c for c in sandbox.admin("/_admin/truth/conversations")}
    assert listed[session_id] == truth[session_id]
    assert "Dernier message modifié" in json.dumps(listed[session_id], ensure_ascii=False)
    assert stats(sandbox)["calls_by_session"] == {session_id: 1}
    assert_account_equals_truth(sandbox, data_dir)
