"""Recette scrapyd de bout en bout : vrai scrapyd, vrai scrapyd-deploy, vrais crawls.

Déroulé (une seule instance de chaque pour tout le module) :

1. un bac à sable Crisp sur 127.0.0.1, avec un identifiant et une clé uniques ;
2. un scrapyd sur 127.0.0.1 (port libre), configuré dans un répertoire temporaire, dont
   l'environnement porte les identifiants et CRISP_DATA_DIR (jamais les arguments des jobs) ;
3. ``scrapyd-deploy`` lancé depuis une copie du projet : l'œuf est construit à partir du
   setup.py versionné ; l'arbre de travail ne reçoit ni build/ ni *.egg-info ;
4. jobs ``conversations`` puis ``messages`` (nb en chaîne, comme avec curl), puis deux jobs
   aux arguments invalides (nb=abc, nb=-3), que scrapyd range aussi dans « finished ».
"""

from __future__ import annotations

import configparser
import hashlib
import json
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.support.crawling import read_jsonl
from tests.support.live import Secrets
from tests.support.messages_support import assert_matches_truth
from tests.support.sandbox_process import start_sandbox
from tests.support.scrapyd_process import (
    PROJECT,
    ROOT,
    ScrapydProcess,
    build_artefacts,
    deploy,
    project_copy,
)

VERSION = "r1"
# Araignées que ce test fait tourner ; le projet peut en avoir d'autres (toutes déployées).
EXERCISED_SPIDERS = {"conversations", "messages"}
FINISH_REASON = re.compile(r"'finish_reason': '([^']*)'")


def finish_reason(log: str) -> str | None:
    """finish_reason lu dans le vidage des statistiques que Scrapy écrit en fin de journal."""
    found = FINISH_REASON.findall(log)
    assert len(found) <= 1, "plusieurs vidages de statistiques dans un même journal"
    return found[0] if found else None


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_snapshot(directory: Path) -> dict[str, str]:
    """Empreinte de chaque fichier d'un répertoire (pour prouver que rien n'a changé)."""
    return {str(path.relative_to(directory)): file_digest(path)
            for path in sorted(directory.rglob("*")) if path.is_file()}


# --- Mise en place (une fois pour le module) ----------------------------------------------


@pytest.fixture(scope="module")
def secrets():
    return Secrets()


@pytest.fixture(scope="module")
def sandbox(secrets):
    server = start_sandbox(seed=7, conversations=30, identifier=secrets.identifier, key=secrets.key)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("scrapyd")


@pytest.fixture(scope="module")
def data_dir(workspace):
    path = workspace / "data"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def scrapyd(workspace, sandbox, data_dir):
    # Les identifiants ne sont que dans l'environnement du processus scrapyd.
    server = ScrapydProcess(workspace / "scrapyd", env={**sandbox.env(),
                                                       "CRISP_DATA_DIR": str(data_dir)})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def deployment(workspace, scrapyd):
    """Déploie une copie du projet ; note l'état de l'arbre de travail avant et après."""
    artefacts_before = build_artefacts(ROOT)
    setup_before = file_digest(ROOT / "setup.py")
    copy = project_copy(workspace / "projet")
    # Les araignées du projet copié, listées par Scrapy lui-même (avant le déploiement).
    listed = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=copy, check=True,
                            capture_output=True, text=True).stdout.split()
    result = deploy(copy, scrapyd.url, VERSION)
    return {
        "result": result,
        "copy": copy,
        "spiders": sorted(listed),
        "artefacts": (artefacts_before, build_artefacts(ROOT)),
        "setup_py": (setup_before, file_digest(ROOT / "setup.py")),
    }


@pytest.fixture(scope="module")
def export_jobs(deployment, scrapyd, sandbox):
    """conversations, puis messages (nb en chaîne) ; renvoie les entrées « finished »."""
    assert deployment["result"].returncode == 0, deployment["result"].stderr
    sandbox.admin("/_admin/stats/reset", method="POST")
    conversations = scrapyd.schedule("conversations", nb="100")
    finished = scrapyd.wait_finished([conversations])
    messages = scrapyd.schedule("messages", nb="100")
    finished.update(scrapyd.wait_finished([messages]))
    return {"conversations": finished[conversations], "messages": finished[messages]}


@pytest.fixture(scope="module")
def bad_jobs(export_jobs, scrapyd, sandbox, data_dir):
    """Deux jobs aux arguments invalides, lancés après l'export (fichiers déjà présents)."""
    before = tree_snapshot(data_dir)
    calls_before = sandbox.admin("/_admin/stats")["calls"]
    jobs = {"messages": scrapyd.schedule("messages", nb="abc"),
            "conversations": scrapyd.schedule("conversations", nb="-3")}
    finished = scrapyd.wait_finished(list(jobs.values()))
    return {
        "entries": {spider: finished[job] for spider, job in jobs.items()},
        "data_unchanged": tree_snapshot(data_dir) == before,
        "calls": sandbox.admin("/_admin/stats")["calls"] - calls_before,
    }


# --- Déploiement ----------------------------------------------------------------------------


def test_committed_scrapy_cfg_has_a_usable_deploy_target():
    config = configparser.ConfigParser()
    config.read(ROOT / "scrapy.cfg", encoding="utf-8")
    assert config.get("settings", "default") == "crispscrape.settings"
    url = config.get("deploy", "url")
    assert re.fullmatch(r"http://[\w.-]+:\d+", url), url  # sans barre oblique finale
    assert config.get("deploy", "project") == PROJECT


def test_deploy_builds_the_egg_from_committed_packaging(deployment, scrapyd):
    result = deployment["result"]
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    answer = json.loads(result.stdout)
    assert answer["status"] == "ok" and answer["project"] == PROJECT
    spiders = deployment["spiders"]
    assert EXERCISED_SPIDERS <= set(spiders)
    assert answer["version"] == VERSION and answer["spiders"] == len(spiders)
    assert f"Deploying to project \"{PROJECT}\" in {scrapyd.url}/addversion.json" in result.stderr

    # scrapyd-deploy n'a pas généré son propre setup.py : le nôtre a servi, tel quel.
    copy = deployment["copy"]
    assert file_digest(copy / "setup.py") == file_digest(ROOT / "setup.py")
    assert "Automatically created by: scrapyd-deploy" not in (copy / "setup.py").read_text()
    # La construction a eu lieu dans la copie…
    assert (copy / "build").is_dir() and list(copy.glob("*.egg-info"))
    # … et l'arbre de travail n'en garde aucune trace.
    before, after = deployment["artefacts"]
    assert after == before, f"restes de construction dans le dépôt : {sorted(after - before)}"
    assert deployment["setup_py"][0] == deployment["setup_py"][1]

    egg = scrapyd.eggs_dir / PROJECT / f"{VERSION}.egg"
    with zipfile.ZipFile(egg) as archive:
        names = archive.namelist()
        entry_points = archive.read("EGG-INFO/entry_points.txt").decode()
    assert "crispscrape/settings.py" in names and "crispscrape/spiders/messages.py" in names
    assert not [name for name in names if name.startswith(("tests/", "bench/"))]
    assert re.search(r"^\[scrapy\]\s*\nsettings = crispscrape\.settings$", entry_points, re.M)

    # Dans l'environnement et le répertoire de scrapyd, crispscrape n'est importable que
    # depuis l'œuf : les jobs qui réussissent ensuite ont donc bien tourné sur l'œuf déployé.
    probe = subprocess.run([sys.executable, "-c", "import crispscrape"], cwd=scrapyd.workdir,
                           env=scrapyd.env, capture_output=True, text=True)
    assert probe.returncode == 1 and "No module named 'crispscrape'" in probe.stderr

    assert PROJECT in scrapyd.get("listprojects.json")["projects"]
    assert scrapyd.get("listversions.json", project=PROJECT)["versions"] == [VERSION]
    assert sorted(scrapyd.get("listspiders.json", project=PROJECT)["spiders"]) == spiders


# --- Export ---------------------------------------------------------------------------------


def test_jobs_export_into_crisp_data_dir(export_jobs, scrapyd, sandbox, data_dir):
    truth = sandbox.admin("/_admin/truth/conversations")
    assert read_jsonl(data_dir / "conversations" / "conversations.jsonl") == truth
    ids = [conversation["session_id"] for conversation in truth]
    assert_matches_truth(sandbox, data_dir, ids)
    state = json.loads((data_dir / "conversations" / "messages"
                        / "messages.jsonl.state.json").read_text())
    assert state["incomplete"] == {}

    for spider, entry in export_jobs.items():
        log = scrapyd.job_log(entry)
        assert finish_reason(log) == "finished", log[-3000:]
        assert "Spider closed (finished)" in log
        assert f"Récapitulatif {spider} :" in log and "Fin : exécution terminée" in log
        # Le code de sortie 0 de notre commande crawl arrive jusqu'à scrapyd.
        assert re.search(rf"Process finished: project='{PROJECT}' spider='{spider}' "
                         rf"job='{entry['id']}'.*'_job={entry['id']}'.*'nb=100'", scrapyd.log)
    messages_log = scrapyd.job_log(export_jobs["messages"])
    assert f"Conversations traitées : {len(ids)} (dont incomplètes, à reprendre : 0)" in messages_log
    assert (f"Fichiers .jsonl de conversation dans {data_dir / 'conversations' / 'messages'} : "
            f"{len(ids)}.") in messages_log


def test_nothing_is_written_to_scrapyd_items_dir(export_jobs, scrapyd):
    """Les données vont dans CRISP_DATA_DIR : le flux FEEDS que scrapyd ajoute reste vide."""
    written = {str(path.relative_to(scrapyd.items_dir)): path.stat().st_size
               for path in scrapyd.items_dir.rglob("*") if path.is_file()}
    assert not {name: size for name, size in written.items() if size}, (
        f"données exportées dans items_dir de scrapyd : {written}")
    # Les journaux sont les seuls fichiers de logs_dir.
    logs = [path for path in scrapyd.logs_dir.rglob("*") if path.is_file()]
    assert logs and all(path.suffix == ".log" for path in logs), logs


# --- Arguments invalides ---------------------------------------------------------------------


@pytest.mark.parametrize("spider, value", [("messages", "abc"), ("conversations", "-3")])
def test_bad_argument_fails_visibly_in_log_and_finish_reason(bad_jobs, scrapyd, spider, value):
    entry = bad_jobs["entries"][spider]
    # scrapyd range un job en échec parmi les « finished » : seul le journal le dit.
    log = scrapyd.job_log(entry)
    assert (scrapyd.logs_dir / PROJECT / spider / f"{entry['id']}.log").read_text() == log
    assert finish_reason(log) == "bad_argument", log[-3000:]
    assert "Spider closed (bad_argument)" in log
    assert (f"ERROR: Argument nb='{value}' invalide : un nombre entier positif est attendu "
            f"(par exemple -a nb=") in log
    assert "Fin : argument invalide, aucun appel : Argument nb=" in log and "Appels à l'API : 0," in log
    # Le code de sortie 1 de notre commande crawl arrive jusqu'à scrapyd.
    assert re.search(rf"Process died: exitstatus=1 project='{PROJECT}' spider='{spider}' "
                     rf"job='{entry['id']}'", scrapyd.log)


def test_bad_arguments_touch_neither_the_api_nor_the_files(bad_jobs):
    assert bad_jobs["calls"] == 0
    assert bad_jobs["data_unchanged"]


# --- Secrets -----------------------------------------------------------------------------------


def test_credentials_never_leak_through_scrapyd(bad_jobs, export_jobs, scrapyd, secrets, data_dir):
    listing = scrapyd.request_text("listjobs.json")
    assert len(json.loads(listing)["finished"]) == 4
    # Tout ce que scrapyd a répondu (schedule, listjobs pendant et après les jobs, journaux).
    for number, answer in enumerate(scrapyd.answers):
        secrets.assert_absent(answer, f"la réponse HTTP n° {number} de scrapyd")
    # Tout ce que scrapyd a écrit : son journal, ceux des jobs, sa file (SQLite), les œufs.
    for directory in (scrapyd.workdir, data_dir):
        for path in directory.rglob("*"):
            if path.is_file():
                secrets.assert_absent(path.read_bytes().decode("latin-1"), str(path))


# --- Le direct, job de longue durée ------------------------------------------------------------


def test_live_is_a_long_job_and_cancel_json_is_its_normal_end(export_jobs, scrapyd, sandbox,
                                                              data_dir):
    job = scrapyd.schedule("live")
    deadline = time.monotonic() + 60
    while sandbox.admin("/_admin/rtm")["clients"] != 1:
        assert time.monotonic() < deadline, scrapyd.log[-3000:]
        time.sleep(0.1)
    session_id = sandbox.admin("/_admin/truth/conversations")[0]["session_id"]
    [added] = sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                            json={"count": 1})
    path = data_dir / "conversations" / "messages" / f"{session_id}.jsonl"
    while str(added["fingerprint"]) not in path.read_text():
        assert time.monotonic() < deadline + 10, "message du direct absent du fichier"
        time.sleep(0.05)
    assert scrapyd.get("listjobs.json", project=PROJECT)["running"][0]["id"] == job
    scrapyd.request_text("cancel.json", [("project", PROJECT), ("job", job)])
    entry = scrapyd.wait_finished([job])[job]
    log = scrapyd.job_log(entry)
    assert finish_reason(log) == "live_stopped", log[-3000:]
    assert "Fin : direct arrêté" in log and "Récapitulatif live :" in log
    # Code de sortie 0 : scrapyd le dit « finished », pas « died ».
    assert re.search(rf"Process finished: project='{PROJECT}' spider='live' job='{job}'",
                     scrapyd.log), scrapyd.log[-3000:]
