"""Plusieurs sites pour un même jeton (``-a website=ID``) : vrais crawls contre un bac à sable
qui sert plusieurs sites, chacun ses données.

- un identifiant de site qui n'est pas un UUID est refusé avant tout : code 1, aucun appel,
  aucun octet changé sous le répertoire de données ;
- chaque site a ses fichiers sous {CRISP_DATA_DIR}/{website_id}/, l'arborescence habituelle
  dedans, égale à la vérité de CE site ; le récapitulatif nomme le site ;
- deux sites différents s'exportent en même temps ; un second export du même site, pendant
  que le premier tient le site (même dans une autre étape), refuse : code 1, aucun appel,
  aucun octet changé ;
- ``scrapy status -a website=ID`` dit où en est ce site.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.crawling import ROOT, crawl_env, read_jsonl, run_crawl, start_crawl
from tests.support.websites import assert_website_equals_truth

SLOW = {"CONCURRENT_REQUESTS": 1, "CONCURRENT_REQUESTS_PER_DOMAIN": 1}


def tree(directory: Path) -> dict[str, str]:
    """Chaque fichier et répertoire sous ``directory``, avec l'empreinte de son contenu."""
    return {str(path.relative_to(directory)): (hashlib.sha256(path.read_bytes()).hexdigest()
                                               if path.is_file() else "répertoire")
            for path in sorted(Path(directory).rglob("*"))}


def token_env(sandbox) -> dict[str, str]:
    """Le jeton et l'URL, sans ID_SITE_CRISP : le site vient de -a website."""
    return {name: value for name, value in sandbox.env().items() if name != "ID_SITE_CRISP"}


def calls(sandbox) -> int:
    return sandbox.admin("/_admin/stats")["calls"]


def status(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scrapy", "status", *arguments], cwd=ROOT,
                          env=crawl_env({}, data_dir), capture_output=True, text=True, timeout=60)


def finish(process: subprocess.Popen, timeout: float = 180) -> tuple[int, str]:
    log, _ = process.communicate(timeout=timeout)
    return process.returncode, log


@pytest.mark.parametrize("spider, website", [("account", "../x"), ("messages", ".."),
                                             ("conversations", "a/b")])
def test_a_bad_website_id_is_refused_before_any_call_or_byte(sandbox_factory, data_dir, spider,
                                                           website):
    sandbox = sandbox_factory(seed=2, conversations=10, websites=2)
    first = sandbox.websites[1]
    done = run_crawl("account", data_dir, token_env(sandbox), args={"website": first})
    assert done.returncode == 0, done.log[-3000:]
    parent = data_dir.parent
    before, calls_before = tree(parent), calls(sandbox)
    result = run_crawl(spider, data_dir, token_env(sandbox), args={"website": website})
    assert result.returncode == 1, result.log[-3000:]
    assert f"Argument website={website!r} invalide : un identifiant de site Crisp est attendu" \
        in result.log
    assert "Fin : argument invalide, aucun appel : " in result.log
    assert calls(sandbox) == calls_before
    assert tree(parent) == before


def test_each_website_in_its_directory_equal_to_its_truth(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=3, conversations=12, websites=3)
    chosen = sandbox.websites[1:]
    # Deux sites lancés ensemble : ils tournent en même temps, chacun dans son répertoire.
    processes = [start_crawl("account", data_dir, token_env(sandbox), args={"website": site})
                 for site in chosen]
    for site, process in zip(chosen, processes, strict=True):
        code, log = finish(process)
        assert code == 0, log[-3000:]
        assert f"Site Crisp : {site} (-a website)." in log[log.rfind("Récapitulatif account"):]
        assert f"Site Crisp : {site} (-a website), fichiers dans {data_dir / site}." in log
        assert_website_equals_truth(sandbox, site, data_dir / site)
    assert sorted(path.name for path in data_dir.iterdir()) == sorted(chosen)
    for site in chosen:
        assert sorted(path.name for path in (data_dir / site).iterdir()) == [
            "conversations", "utilisateurs"]
        assert (data_dir / site / "conversations" / "messages" / "messages.jsonl.state.json"
                ).is_file()
    # Les données des sites diffèrent : chacun a bien reçu les siennes.
    one, two = (sorted(path.name for path in (data_dir / site / "conversations" / "messages")
                       .glob("*.jsonl")) for site in chosen)
    assert one != two

    answer = status(data_dir, "-a", f"website={chosen[0]}")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.startswith(f"Site Crisp : {chosen[0]} (-a website).")
    assert f"d'après les fichiers de {data_dir / chosen[0]}" in answer.stdout
    assert "\nFin : compte complet" in answer.stdout
    # Pièces jointes en échec (404 du bac à sable) : dites, sans changer le code de sortie.
    failed = sum(1 for line in read_jsonl(data_dir / chosen[0] / "conversations" /
                                          "fichiers.jsonl") if line["status"] != "ok")
    assert answer.stdout.rstrip().endswith(
        "Fin : compte complet et à jour." if not failed else
        f"(retentée{'s' if failed > 1 else ''} au prochain lancement).")
    # Un site jamais exporté : son répertoire n'existe pas, c'est dit (code 1, rien de créé).
    untouched = status(data_dir, "--website", sandbox.websites[0])
    assert untouched.returncode == 1 and "n'existe pas" in untouched.stdout
    refused = status(data_dir, "-a", "website=../x")
    assert refused.returncode == 1 and "Argument website='../x' invalide" in refused.stdout
    assert sorted(path.name for path in data_dir.iterdir()) == sorted(chosen)


def test_same_website_twice_is_refused_while_another_website_runs(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=4, conversations=12, websites=2, latency_ms=150)
    site, other = sandbox.websites
    first = start_crawl("account", data_dir, token_env(sandbox), args={"website": site},
                        settings=SLOW)
    messages = data_dir / site / "conversations" / "messages"
    try:
        deadline = time.monotonic() + 60
        # Le premier est dans son étape messages : la liste est libre, le site ne l'est pas.
        while not list(messages.glob("*.jsonl")):
            assert first.poll() is None and time.monotonic() < deadline, "premier export fini"
            time.sleep(0.02)
        os.killpg(first.pid, signal.SIGSTOP)  # figé : il tient le site, n'écrit plus rien
        before, calls_before = tree(data_dir), calls(sandbox)
        second = run_crawl("account", data_dir, token_env(sandbox), args={"website": site})
        assert second.returncode == 1, second.log[-3000:]
        assert f"Un autre export est déjà en cours pour ce site ({site})" in second.log
        assert calls(sandbox) == calls_before
        assert tree(data_dir) == before
        # Un autre site, lui, s'exporte pendant ce temps.
        beside = run_crawl("account", data_dir, token_env(sandbox), args={"website": other})
        assert beside.returncode == 0, beside.log[-3000:]
        assert_website_equals_truth(sandbox, other, data_dir / other)
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    code, log = finish(first)
    assert code == 0, log[-3000:]
    assert_website_equals_truth(sandbox, site, data_dir / site)
