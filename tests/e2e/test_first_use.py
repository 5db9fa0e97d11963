"""Ce qu'un nouvel utilisateur rencontre : chaque erreur de départ donne une phrase en
français qui dit quoi corriger, code 1, aucun appel inutile, aucun fichier laissé."""

from __future__ import annotations

import pytest

from tests.support.crawling import ROOT, run_crawl
from tests.support.messages_support import write_conversations

SPIDERS = ["conversations", "messages", "users"]


def calls(sandbox):
    return sandbox.admin("/_admin/stats")["calls"]


def assert_french_refusal(result, *fragments):
    assert result.returncode == 1, result.log[-3000:]
    assert "Traceback" not in result.log, result.log[-3000:]
    assert "invalid literal" not in result.log
    for fragment in fragments:
        assert fragment in result.log, result.log[-3000:]


@pytest.mark.parametrize("spider", SPIDERS)
@pytest.mark.parametrize("url,fragment", [
    ("api.crisp.chat/v1", "n'est pas une adresse web complète"),
    ("{base}", "semble fausse : elle doit finir par la version de l'API, /v1"),
], ids=["sans-schéma", "sans-v1"])
def test_unusable_api_url_is_refused_before_any_call(sandbox, data_dir, spider, url, fragment):
    write_conversations(sandbox, data_dir)
    env = {**sandbox.env(), "CRISP_API_URL": url.format(base=sandbox.base)}
    result = run_crawl(spider, data_dir, env, full_log=False)
    assert_french_refusal(result, fragment, "Aucun appel n'a été fait")
    assert calls(sandbox) == 0


@pytest.mark.parametrize("spider", SPIDERS)
def test_non_numeric_setting_is_explained_in_french(sandbox, data_dir, spider):
    result = run_crawl(spider, data_dir, sandbox.env(), full_log=False,
                       settings={"CRISP_CONVERSATIONS_PER_PAGE": "abc"})
    assert_french_refusal(result, "Réglage CRISP_CONVERSATIONS_PER_PAGE='abc' invalide : "
                                  "un nombre entier est attendu")
    assert calls(sandbox) == 0


@pytest.mark.parametrize("spider", SPIDERS)
def test_unreachable_api_is_named_with_its_url(sandbox, data_dir, spider):
    write_conversations(sandbox, data_dir)
    dead = "http://127.0.0.1:9/v1"  # port « discard » : rien n'y écoute ici
    result = run_crawl(spider, data_dir, {**sandbox.env(), "CRISP_API_URL": dead}, full_log=False,
                       settings={"CRISP_RETRY_BASE_DELAY": "0.01", "RETRY_TIMES": 1})
    assert_french_refusal(result, f"Erreur : API Crisp injoignable à l'adresse {dead}",
                          f"Fin : API injoignable : API Crisp injoignable à l'adresse {dead}")


def test_list_route_answering_404_says_the_api_url_looks_wrong(sandbox, data_dir):
    """Une URL versionnée mais fausse (préfixe en trop) : 404 sur la route de la liste."""
    env = {**sandbox.env(), "CRISP_API_URL": sandbox.base + "/api/v1"}
    result = run_crawl("conversations", data_dir, env)
    assert_french_refusal(result, "semble fausse", sandbox.base + "/api/v1")
    assert calls(sandbox) == 0  # le bac à sable ne compte que ses propres routes


@pytest.mark.parametrize("spider", SPIDERS)
def test_data_dir_that_is_a_file_gets_the_same_message_everywhere(sandbox, tmp_path, spider):
    target = tmp_path / "un-fichier"
    target.write_text("je ne suis pas un répertoire\n", encoding="utf-8")
    result = run_crawl(spider, target, sandbox.env(), full_log=False)
    assert_french_refusal(result, f"CRISP_DATA_DIR désigne {target}, qui est un fichier")
    assert target.read_text(encoding="utf-8") == "je ne suis pas un répertoire\n"
    assert calls(sandbox) == 0


def test_refused_credentials_leave_no_empty_directory_and_claim_no_file(sandbox, data_dir):
    result = run_crawl("conversations", data_dir, {**sandbox.env(), "CRISP_KEY_PROD": "faux"})
    assert result.returncode == 1 and result.reason == "unauthorized"
    assert list(data_dir.iterdir()) == []
    assert "contient désormais" not in result.log


def test_jsonrpc_on_a_network_address_without_token_is_one_french_sentence(sandbox, data_dir):
    result = run_crawl("conversations", data_dir, sandbox.env(),
                       settings={"JSONRPC_ENABLED": "1", "JSONRPC_HOST": "0.0.0.0"})
    assert_french_refusal(result, "JSONRPC_HOST vaut '0.0.0.0'", "JSONRPC_TOKEN",
                          "Le crawl n'a pas été démarré.")
    assert calls(sandbox) == 0


@pytest.mark.parametrize("quiet", ["WARNING", "ERROR"])
def test_summary_stays_visible_with_a_quiet_log_and_comes_after_the_stats(sandbox, data_dir,
                                                                         quiet):
    from tests.support.crawling import crawl_command, crawl_env
    import subprocess
    write_conversations(sandbox, data_dir)
    command = crawl_command("messages", {"nb": 5}) + ["-L", quiet]
    done = subprocess.run(command, env=crawl_env(sandbox.env(), data_dir), text=True,
                          capture_output=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert "Récapitulatif messages :" in log and "Fin : exécution terminée" in log
    assert "Scrapy 2." not in log  # les lignes de démarrage, elles, sont tues
    assert "WARNING" not in log  # un bilan n'est jamais annoncé comme un avertissement
    # Journal complet (-L INFO) : le récapitulatif vient après le vidage des statistiques.
    verbose = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 1})
    assert verbose.log.rindex("Récapitulatif messages :") > verbose.log.index("Dumping Scrapy stats")


def test_sandbox_banner_gives_credentials_and_commands_that_work(sandbox, data_dir):
    """Les lignes « export … » et la commande de la bannière, collées telles quelles."""
    import subprocess
    import sys
    import time

    from tests.support.crawling import crawl_env
    deadline = time.monotonic() + 10
    while "scrapy crawl account" not in sandbox.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    banner = sandbox.logs()
    exports = dict(line.strip()[len("export "):].split("=", 1) for line in banner.splitlines()
                   if line.strip().startswith("export "))
    assert exports["CRISP_API_URL"] == sandbox.url and exports["CRISP_KEY_PROD"] == sandbox.key
    assert exports["ID_SITE_CRISP"] == sandbox.website_id
    env = crawl_env({**exports, "CRISP_DATA_DIR": str(data_dir)}, data_dir)
    # « scrapy crawl account » de la bannière, par l'interpréteur du test (venv hors du PATH).
    done = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "account"], env=env, cwd=ROOT,
                          text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # Compte complet ; les pièces jointes du bac à sable qui répondent 404 sont dites à part.
    assert "Fin : compte complet" in done.stderr
