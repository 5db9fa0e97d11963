"""Premier contact avec un vrai compte (issue 19) : les deux sortes de jeton Crisp, et une
sortie qui commence par ce qui compte. De vrais crawls contre le bac à sable, tels qu'une
personne les voit (mode console : ni -L ni LOG_FILE)."""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.support.console import run_shown
from tests.support.crawling import read_jsonl, run_crawl
from tests.support.files_truth import complete_end

PREFIXED = re.compile(r"\[[\w.]+\] (DEBUG|INFO|WARNING|ERROR)")


def calls(sandbox) -> int:
    return sandbox.admin("/_admin/stats")["calls"]


def test_website_token_exports_the_account(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=1, conversations=20, tier="website")
    assert sandbox.env()["CRISP_TOKEN_TIER"] == "website"
    shown = run_shown("account", data_dir, sandbox.env())
    assert shown.returncode == 0, shown.text
    assert shown.lines[-1] == complete_end(sandbox)
    assert len(read_jsonl(data_dir / "conversations" / "conversations.jsonl")) == 20


@pytest.mark.parametrize("sandbox_tier,declared,advice", [
    ("website", "plugin", "posez CRISP_TOKEN_TIER=website"),
    ("plugin", "website", "posez CRISP_TOKEN_TIER=plugin"),
])
def test_the_other_kind_of_token_is_refused_with_the_setting_to_change(
        sandbox_factory, data_dir, sandbox_tier, declared, advice):
    sandbox = sandbox_factory(seed=1, conversations=5, tier=sandbox_tier)
    env = {**sandbox.env(), "CRISP_TOKEN_TIER": declared}
    shown = run_shown("account", data_dir, env)
    assert shown.returncode == 1, shown.text
    first, last = shown.lines[0], shown.lines[-1]
    # La première ligne est la cause, avec l'autre sorte de jeton et le réglage à poser…
    assert first.startswith("Erreur : Identifiants Crisp refusés (HTTP 401)"), shown.text
    assert advice in first and "CRISP_IDENTIFIER_PROD" in first
    # … la dernière la répète ; rien sur un compte que l'exécution n'a pas vu.
    assert last == "Fin : identifiants Crisp refusés (HTTP 401).", shown.text
    for unseen in ("État du compte", "compte complet", "Moniteur Fin normale", "Traceback"):
        assert unseen not in shown.text
    assert calls(sandbox) == 1
    assert list(data_dir.iterdir()) == []


@pytest.mark.parametrize("spider", ["account", "conversations"])
def test_an_unknown_tier_is_refused_before_any_call(sandbox, data_dir, spider):
    shown = run_shown(spider, data_dir, {**sandbox.env(), "CRISP_TOKEN_TIER": "plugins"})
    assert shown.returncode == 1, shown.text
    assert "CRISP_TOKEN_TIER='plugins' invalide : « plugin »" in shown.text
    assert "Aucun appel n'a été fait" in shown.text and "Traceback" not in shown.text
    assert calls(sandbox) == 0


@pytest.mark.parametrize("tier,settings,quota", [
    ("plugin", {}, 5000), ("website", {}, 10000),
    ("website", {"CRISP_DAILY_QUOTA": 7000}, 7000),
])
def test_daily_quota_follows_the_tier_unless_set(sandbox, data_dir, tier, settings, quota):
    env = {**sandbox.env(), "CRISP_TOKEN_TIER": tier}
    shown = run_shown("account", data_dir, env, args={"dry_run": 1}, settings=settings)
    assert shown.returncode == 0, shown.text
    assert f"au quota de {quota} appels/jour" in shown.text
    assert calls(sandbox) == 0


@pytest.mark.parametrize("tty", [False, True], ids=["tuyau", "terminal"])
def test_a_successful_account_run_shows_at_most_25_lines(sandbox_factory, data_dir, tty):
    sandbox = sandbox_factory(seed=1, conversations=50)
    shown = run_shown("account", data_dir, sandbox.env(), tty=tty)
    assert shown.returncode == 0, shown.text
    assert len(shown.lines) <= 25, shown.text
    assert not PREFIXED.search(shown.text) and "WARNING" not in shown.text, shown.text
    for noise in ("Scrapy 2.", "Dumping Scrapy stats", "Overridden settings", "Enabled"):
        assert noise not in shown.text
    assert "Récapitulatif account :" in shown.text
    assert "Étape messages : " in shown.text and "Pièces jointes : " in shown.text
    # Les pièces jointes du bac à sable qui répondent 404 ne changent pas le code de sortie.
    assert shown.lines[-1].startswith("Fin : compte complet"), shown.text


def test_full_log_is_kept_with_log_level_info_or_a_log_file(sandbox, data_dir, tmp_path):
    verbose = run_shown("conversations", data_dir, sandbox.env(), extra=("-L", "INFO"))
    assert verbose.returncode == 0, verbose.text
    assert "Dumping Scrapy stats" in verbose.text and "[scrapy.core.engine] INFO" in verbose.text
    log_file = tmp_path / "crawl.log"
    logged = run_shown("conversations", data_dir, sandbox.env(),
                       settings={"LOG_FILE": str(log_file)})
    assert logged.returncode == 0
    text = log_file.read_text(encoding="utf-8")
    assert "Dumping Scrapy stats" in text and "Récapitulatif conversations :" in text


def test_a_planned_stop_says_so_and_keeps_exit_code_2(sandbox, data_dir):
    shown = run_shown("account", data_dir, sandbox.env(), args={"budget": 3})
    assert shown.returncode == 2, shown.text
    assert shown.lines[-1].startswith("Fin : budget d'appels atteint, arrêt prévu, reprise au "
                                      "prochain lancement"), shown.text
    assert "Moniteur" not in shown.text.replace("Moniteurs : 5 réussis.", ""), shown.text
    assert "Moniteurs : 5 réussis." in shown.text
    # Le budget d'une étape est le reste de celui de l'exécution : dit comme tel.
    assert "appels à l'API, le reste du budget de l'exécution)" in shown.text, shown.text


def test_progress_never_shows_a_placeholder_total(sandbox, data_dir):
    result = run_crawl("account", data_dir, sandbox.env(), settings={"LOG_LEVEL": "INFO"})
    assert result.returncode == 0, result.log[-3000:]
    progress = [line for line in result.log.splitlines() if "Progression" in line]
    assert progress, result.log[-3000:]
    for line in progress:
        assert not re.search(r"/\d{7,}", line), line


def test_many_attachment_failures_of_one_kind_make_one_counted_line_on_screen(sandbox_factory,
                                                                              data_dir, tmp_path):
    sandbox = sandbox_factory(seed=1, conversations=50)
    assert run_crawl("conversations", data_dir, sandbox.env()).returncode == 0
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 50},
                       settings={"LOG_LEVEL": "INFO"})
    assert result.returncode == 0, result.log[-3000:]
    failed = result.stats.get("files/status/http_404", 0)
    assert failed > 3  # sinon ce test ne prouve rien : le bac à sable en donne 9
    # Journal complet : chaque échec garde sa ligne (celui qu'on lit pour trouver une URL).
    assert result.log.count("Pièce jointe non obtenue (http_404") == failed, result.log[-3000:]
    assert f"en échec (http_404 : {failed} ; retentées" in result.log
    # À l'écran : aucune ligne par pièce, une ligne qui les compte.
    screen = tmp_path / "ecran"
    shown = run_shown("account", screen, sandbox.env())
    assert shown.returncode == 0, shown.text
    assert "Pièce jointe non obtenue" not in shown.text
    assert f"en échec (http_404 : {failed} ; retentées" in shown.text, shown.text


@pytest.mark.parametrize("spider,typo,meant", [
    ("messages", "nbr", "nb"), ("account", "bugdet", "budget"), ("conversations", "rest", "reset"),
])
def test_an_unknown_argument_close_to_a_known_one_is_suggested(sandbox, data_dir, spider, typo,
                                                              meant):
    shown = run_shown(spider, data_dir, sandbox.env(), args={typo: 5})
    assert shown.returncode == 1, shown.text
    assert f"Argument inconnu : -a {typo}=…" in shown.lines[0]
    assert f"Vouliez-vous dire {meant} ?" in shown.lines[0]
    assert shown.lines[-1].startswith("Fin : argument invalide, aucun appel : Argument inconnu")
    assert calls(sandbox) == 0


def test_a_malformed_url_is_called_invalid_not_incomplete(sandbox, data_dir):
    shown = run_shown("account", data_dir, {**sandbox.env(), "CRISP_API_URL": "api.crisp.chat/v1"})
    assert shown.returncode == 1, shown.text
    assert "incomplète" not in shown.text
    # La première ligne est la cause (pas un « Disabled <class …> » anglais de Scrapy).
    assert shown.lines[0].startswith("Erreur : CRISP_API_URL='api.crisp.chat/v1' n'est pas"), \
        shown.text
    assert shown.lines[-1].startswith("Fin : configuration refusée, aucun appel : "
                                      "CRISP_API_URL='api.crisp.chat/v1' n'est pas une adresse "
                                      "web complète"), shown.text


def test_messages_alone_with_an_old_listing_names_the_account_command(sandbox, data_dir):
    assert run_crawl("conversations", data_dir, sandbox.env()).returncode == 0
    fresh = run_shown("messages", data_dir, sandbox.env(), args={"nb": 2})
    assert fresh.returncode == 0 and "scrapy crawl account" not in fresh.text, fresh.text
    listing = data_dir / "conversations" / "conversations.jsonl"
    old = time.time() - 3 * 86400
    # Une relève vieille de trois jours : la liste ET l'état de son parcours.
    for path in (listing, listing.with_name(listing.name + ".state.json")):
        os.utime(path, (old, old))
    stale = run_shown("messages", data_dir, sandbox.env(), args={"nb": 2})
    assert stale.returncode == 0, stale.text
    assert f"la liste des conversations ({listing}) date de 3 jour(s)" in stale.text
    assert "Lancez « scrapy crawl account »" in stale.text


def test_an_unreachable_api_starts_with_its_cause_and_ends_repeating_it(sandbox, data_dir):
    dead = "http://127.0.0.1:9/v1"  # port « discard » : rien n'y écoute ici
    shown = run_shown("account", data_dir, {**sandbox.env(), "CRISP_API_URL": dead},
                      settings={"CRISP_RETRY_BASE_DELAY": "0.01"})
    assert shown.returncode == 1, shown.text
    assert shown.lines[0].startswith(f"Erreur : API Crisp injoignable à l'adresse {dead}")
    assert shown.lines[-1].startswith(f"Fin : API injoignable : API Crisp injoignable à "
                                      f"l'adresse {dead}")
    # Ni « Gave up retrying » (anglais, une ligne par essai), ni progression à zéro.
    assert "Gave up" not in shown.text and "Progression" not in shown.text, shown.text


def test_an_argument_example_never_shows_the_internal_unlimited_value(sandbox, data_dir):
    shown = run_shown("account", data_dir, sandbox.env(), args={"nb": "abc"})
    assert shown.returncode == 1, shown.text
    assert "Argument nb='abc' invalide : un nombre entier positif est attendu (par exemple " \
           "-a nb=100)" in shown.lines[0]
