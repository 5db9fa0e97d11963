"""``scrapy cluster`` de bout en bout : deux vrais scrapyd sur 127.0.0.1 (deux ports, chacun sa
configuration temporaire), un bac à sable qui sert quatre sites, un CRISP_DATA_DIR partagé.

Déroulé (une seule fois pour le module) :

1. ``scrapy cluster deploy`` : l'œuf, construit hors de l'arbre de travail, sur les deux nœuds ;
2. ``scrapy cluster run`` : quatre jobs ``account``, deux par nœud ; relancé aussitôt, il ne
   replanifie aucun site déjà en attente ou en cours ;
3. le nœud A est arrêté au milieu de ses exports ; les jobs du nœud B finissent ;
4. ``scrapy cluster run`` à nouveau : A est ignoré, ses sites vont sur B, qui les finit à
   partir de l'état laissé par A (même répertoire de données) ;
5. chaque site égale sa vérité ; aucun identifiant Crisp n'apparaît chez scrapyd.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from crispscrape.status import AccountStatus
from tests.support.crawling import ROOT
from tests.support.live import Secrets
from tests.support.sandbox_process import start_sandbox
from tests.support.scrapyd_process import PROJECT, ScrapydProcess, build_artefacts, \
    clean_environment
from tests.support.websites import assert_website_equals_truth

VERSION = "c1"
# Une seconde par appel : un job dure assez longtemps pour arrêter un nœud en plein export.
LATENCY_MS = 1000


def cluster(*arguments: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """``scrapy cluster …`` depuis le dépôt, sans aucun identifiant Crisp dans l'environnement."""
    return subprocess.run([sys.executable, "-m", "scrapy", "cluster", *arguments], cwd=ROOT,
                          env=clean_environment({}), capture_output=True, text=True,
                          timeout=timeout)


def jobs(node: ScrapydProcess) -> dict:
    return node.get("listjobs.json", project=PROJECT)


def active(node: ScrapydProcess) -> list[dict]:
    listing = jobs(node)
    return listing["pending"] + listing["running"]


def site_of(job_id: str) -> str:
    return job_id.rsplit("_", 1)[0]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"délai dépassé : {what}"
        time.sleep(0.2)


# --- Mise en place --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secrets():
    return Secrets()


@pytest.fixture(scope="module")
def sandbox(secrets):
    server = start_sandbox(seed=11, conversations=12, websites=4, latency_ms=LATENCY_MS,
                           identifier=secrets.identifier, key=secrets.key)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("grappe")


@pytest.fixture(scope="module")
def nodes(workspace, sandbox):
    """Deux nœuds ; identifiants et répertoire de données partagé dans LEUR environnement."""
    data_dir = workspace / "donnees"
    data_dir.mkdir()
    env = {name: value for name, value in sandbox.env().items() if name != "ID_SITE_CRISP"}
    env["CRISP_DATA_DIR"] = str(data_dir)
    started = []
    try:
        for name in ("a", "b"):
            started.append(ScrapydProcess(workspace / name, env=env, max_proc=4).start())
        yield started
    finally:
        for node in started:
            node.stop()


@pytest.fixture(scope="module")
def story(nodes, sandbox, workspace):
    """Le déroulé complet ; chaque test en vérifie une partie."""
    a, b = nodes
    node_args = ["--node", a.url, "--node", b.url]
    websites = [arg for site in sandbox.websites for arg in ("--website", site)]
    artefacts = build_artefacts(ROOT)
    out = {"deploy": cluster("deploy", *node_args, "--version", VERSION),
           "artefacts": (artefacts, build_artefacts(ROOT))}
    out["first"] = cluster("run", *node_args, *websites)
    out["spread"] = {"a": active(a), "b": active(b)}
    out["again"] = cluster("run", *node_args, *websites)
    out["after_again"] = {"a": active(a), "b": active(b)}
    data_dir = workspace / "donnees"
    on_a = [site_of(job["id"]) for job in out["spread"]["a"]]
    # A s'arrête quand ses deux exports tournent et ont commencé à écrire.
    wait_for(lambda: len(jobs(a)["running"]) == 2 and all(
        (data_dir / site / "conversations" / "conversations.jsonl").exists() for site in on_a),
        120, "exports du nœud A commencés")
    a.stop()
    out["a_sites_complete_at_stop"] = [AccountStatus.read(data_dir / site).complete
                                       for site in on_a]
    first_b = [job["id"] for job in out["spread"]["b"]]
    b.wait_finished(first_b, timeout=240)
    out["rerun"] = cluster("run", *node_args, *websites)
    rerun_jobs = [job["id"] for job in active(b)]
    out["rerun_jobs"] = rerun_jobs
    out["finished"] = b.wait_finished(rerun_jobs, timeout=300)
    out["status"] = cluster("status", *node_args, *websites)
    out["data_dir"], out["on_a"] = data_dir, on_a
    return out


# --- Aide en français -----------------------------------------------------------------------


def test_help_is_in_french():
    result = cluster("--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Déployer sur des nœuds scrapyd" in text or "deploy : envoie l'œuf" in text
    for french in ("Grappe Scrapyd", "URL d'un nœud scrapyd", "identifiant d'un site Crisp",
                   "réglage Scrapy (répétable)", "affiche cette aide et sort"):
        assert french in text, text
    for english in ("Global Options", "set/override setting", "show this help message"):
        assert english not in text, text


def test_bad_arguments_are_refused_before_any_node_is_called(tmp_path):
    no_node = cluster("run", "--website", "8c842203-7ed8-4e29-a608-7cf78a7d2fcc")
    assert no_node.returncode == 1 and "Aucun nœud scrapyd" in no_node.stderr
    bad_site = cluster("run", "--node", "http://127.0.0.1:9", "--website", "../x")
    assert bad_site.returncode == 1 and "Argument website='../x' invalide" in bad_site.stderr
    listing = tmp_path / "sites.txt"
    listing.write_text("# sites\n8c842203-7ed8-4e29-a608-7cf78a7d2fcc\na/b\n", encoding="utf-8")
    in_file = cluster("run", "--node", "http://127.0.0.1:9", "--websites-file", str(listing))
    assert in_file.returncode == 1 and f"{listing}, ligne 3 :" in in_file.stderr


# --- Déploiement et répartition ---------------------------------------------------------------


def test_deploy_sends_the_egg_to_both_nodes_without_touching_the_tree(story, nodes):
    result = story["deploy"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Fin : déployé sur 2 nœud(s) sur 2." in result.stdout
    for node in nodes[1:]:  # A est arrêté à la fin du déroulé ; B répond encore
        assert node.get("listversions.json", project=PROJECT)["versions"] == [VERSION]
    before, after = story["artefacts"]
    assert after == before


def test_run_spreads_one_account_job_per_website_two_per_node(story, sandbox):
    result = story["first"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Fin : 4 site(s) planifié(s), 0 déjà en cours, 0 non placé(s)" in result.stdout
    spread = story["spread"]
    assert len(spread["a"]) == 2 and len(spread["b"]) == 2
    placed = [site_of(job["id"]) for jobs_ in spread.values() for job in jobs_]
    assert sorted(placed) == sorted(sandbox.websites)
    for job in spread["a"] + spread["b"]:
        if "args" in job:  # en attente : scrapyd montre les arguments du job
            assert job["spider"] == "account" and job["args"]["website"] == site_of(job["id"])


def test_a_website_already_pending_or_running_is_never_scheduled_twice(story, sandbox):
    result = story["again"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Fin : 0 site(s) planifié(s), 4 déjà en cours, 0 non placé(s)" in result.stdout
    for site in sandbox.websites:
        assert re.search(rf"{site} : déjà en (cours|attente) sur http://127\.0\.0\.1:\d+",
                         result.stdout)
    ids = lambda listing: sorted(job["id"] for part in listing.values() for job in part)  # noqa: E731
    assert ids(story["after_again"]) == ids(story["spread"])


# --- Un nœud s'arrête -------------------------------------------------------------------------


def test_a_stopped_node_is_skipped_and_its_websites_finish_on_the_other(story, nodes, sandbox):
    a, b = nodes
    # A a bien été arrêté au milieu : au moins un de ses sites était incomplet.
    assert not all(story["a_sites_complete_at_stop"])
    rerun = story["rerun"]
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"Nœud ignoré : {a.url} injoignable" in rerun.stdout
    assert "Fin : 4 site(s) planifié(s), 0 déjà en cours, 0 non placé(s) ; nœuds utilisés : " \
           "1 sur 2." in rerun.stdout
    assert sorted(site_of(job) for job in story["rerun_jobs"]) == sorted(sandbox.websites)
    for job in story["rerun_jobs"]:
        assert re.search(rf"Process finished: project='{PROJECT}' spider='account' job='{job}'",
                         b.log), b.log[-3000:]
    for site in sandbox.websites:
        assert_website_equals_truth(sandbox, site, story["data_dir"] / site)
    assert sorted(path.name for path in story["data_dir"].iterdir()) == sorted(sandbox.websites)


def test_status_names_every_node_and_website(story, nodes, sandbox):
    a, b = nodes
    result = story["status"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{a.url} : inutilisable" in result.stdout
    assert f"{b.url} : en marche ; {PROJECT} : 0 en cours, 0 en attente" in result.stdout
    for site in sandbox.websites:
        assert f"{site} : dernier job terminé sur {b.url}" in result.stdout


def test_credentials_never_reach_scrapyd_or_the_cluster_command(story, nodes, secrets):
    for name in ("deploy", "first", "again", "rerun", "status"):
        secrets.assert_absent(story[name].stdout + story[name].stderr, f"la sortie de {name}")
    for node in nodes:
        for answer in node.answers:
            secrets.assert_absent(answer, "une réponse de scrapyd")
        for path in node.workdir.rglob("*"):
            if path.is_file():
                secrets.assert_absent(path.read_bytes().decode("latin-1"), str(path))
    b = nodes[1]
    secrets.assert_absent(json.dumps(jobs(b)), "listjobs.json")
