"""Pièces jointes : de vrais crawls contre le bac à sable, qui sert les fichiers qu'il référence
(sous « localhost » quand l'API est « 127.0.0.1 », voir crispsandbox/media.py)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from pathlib import Path

from crispsandbox.media import media_body, media_kind
from crispscrape.file_refs import FILE_TYPES, session_dir
from tests.support.crawling import read_jsonl, run_crawl, start_crawl
from tests.support.interrupting import TempFileCreated, is_temp
from tests.support.write_kills import kill_during_write

SEED = 1


def token_of(url: str) -> str:
    return url.split("/media/", 1)[1].split("/", 1)[0]


def truth_refs(sandbox) -> dict[tuple[str, int], str]:
    """(session_id, fingerprint) -> URL de chaque message porteur d'un fichier."""
    refs = {}
    for conversation in sandbox.admin("/_admin/truth/conversations"):
        session_id = conversation["session_id"]
        for message in sandbox.admin(f"/_admin/truth/messages/{session_id}"):
            if message["type"] in FILE_TYPES:
                refs[(session_id, message["fingerprint"])] = message["content"]["url"]
    return refs


def index_of(data_dir: Path) -> dict[tuple[str, int], dict]:
    lines = read_jsonl(data_dir / "conversations" / "fichiers.jsonl")
    index = {(line["session_id"], line["fingerprint"]): line for line in lines}
    assert len(index) == len(lines), "une seule ligne par (session_id, fingerprint)"
    return index


def lines_after_kill(path: Path) -> dict[tuple[str, int], dict]:
    """Index lu après un SIGKILL : seule la dernière ligne peut être incomplète."""
    if not path.exists():
        return {}
    index, lines = {}, path.read_text(encoding="utf-8").splitlines()
    for number, text in enumerate(lines, start=1):
        try:
            line = json.loads(text)
        except ValueError:
            assert number == len(lines), f"ligne {number} illisible au milieu de l'index"
            continue
        index[(line["session_id"], line["fingerprint"])] = line
    return index


def media_stats(sandbox) -> dict:
    return sandbox.admin("/_admin/media/stats")


def reset_counters(sandbox) -> None:
    sandbox.admin("/_admin/media/stats/reset", method="POST")
    sandbox.admin("/_admin/stats/reset", method="POST")


def export(sandbox, data_dir: Path, spider="messages", **settings):
    result = run_crawl(spider, data_dir, sandbox.env(), args={"nb": 1000} if spider == "messages"
                       else None, settings=settings)
    assert result.returncode == 0, result.log[-3000:]
    return result


def assert_file_matches(data_dir: Path, line: dict) -> None:
    path = (data_dir / line["path"]).resolve()
    assert path.is_relative_to((data_dir / "conversations" / "fichiers").resolve())
    body = media_body(SEED, token_of(line["url"]))
    assert path.read_bytes() == body
    assert line["size"] == len(body)
    assert line["checksum"] == "sha256:" + hashlib.sha256(body).hexdigest()
    assert os.stat(path).st_mode & 0o777 == 0o600


def file_messages(sandbox, count: int) -> list[tuple[str, int]]:
    """Les ``count`` premiers messages de type ``file`` (pour les modifier)."""
    found = []
    for conversation in sandbox.admin("/_admin/truth/conversations"):
        for message in sandbox.admin(f"/_admin/truth/messages/{conversation['session_id']}"):
            if message["type"] == "file" and len(found) < count:
                found.append((conversation["session_id"], message["fingerprint"]))
    return found


def edit(sandbox, key, content) -> None:
    session_id, fingerprint = key
    sandbox.admin(f"/_admin/conversations/{session_id}/messages/{fingerprint}/edit",
                  method="POST", json={"content": content})


def test_each_file_once_bytes_checked_failures_retried_to_the_bound(sandbox, data_dir):
    # Un message dont l'URL pointe sur l'API elle-même : même là, jamais d'identifiants.
    on_api = file_messages(sandbox, 1)[0]
    api_url = f"{sandbox.url}/website/{sandbox.website_id}/conversations/1"
    edit(sandbox, on_api, {"name": "api.json", "url": api_url, "type": "application/json"})
    truth = truth_refs(sandbox)
    export(sandbox, data_dir, "conversations")
    reset_counters(sandbox)
    result = export(sandbox, data_dir, CRISP_FILES_MAX_ATTEMPTS=2)

    index = index_of(data_dir)
    assert set(index) == set(truth)
    kinds = {key: media_kind(SEED, token_of(url)) for key, url in truth.items() if key != on_api}
    assert {"ok", "missing", "slow", "large"} <= set(kinds.values())
    for key, kind in kinds.items():
        line = index[key]
        assert line["url"] == truth[key]
        if kind == "missing":
            assert (line["status"], line["attempts"], line["size"]) == ("http_404", 1, None)
            assert not (data_dir / line["path"]).exists()
        else:
            assert line["status"] == "ok", line
            assert_file_matches(data_dir, line)
    assert index[on_api]["status"] == "http_401"
    media = media_stats(sandbox)
    assert media["requests"] == len(truth) - 1
    assert media["with_authorization"] == 0 and media["with_crisp_tier"] == 0
    # Le budget et le compte des appels ne voient que l'API (la pièce « sur l'API » non plus).
    calls = sandbox.admin("/_admin/stats")["calls"]
    assert result.stats["crisp_budget/spent"] == result.stats["crisp_api/requests"] == calls - 1
    failed = sum(kind == "missing" for kind in kinds.values()) + 1
    assert result.stats["files/failed"] == failed
    assert (f"Pièces jointes : {len(truth) - failed} téléchargée(s), {failed} en échec"
            in result.log)

    # Deuxième exécution : seuls les échecs repartent, une fois chacun.
    reset_counters(sandbox)
    again = export(sandbox, data_dir, CRISP_FILES_MAX_ATTEMPTS=2)
    missing = {token_of(truth[key]) for key, kind in kinds.items() if kind == "missing"}
    assert media_stats(sandbox)["by_token"] == {token: 1 for token in missing}
    assert again.stats["files/already"] == len(truth) - failed
    assert {index_of(data_dir)[key]["attempts"] for key in kinds if kinds[key] == "missing"} == {2}

    # Troisième : la limite est atteinte, plus aucune requête de fichier.
    reset_counters(sandbox)
    third = export(sandbox, data_dir, CRISP_FILES_MAX_ATTEMPTS=2)
    assert media_stats(sandbox)["requests"] == 0
    assert sandbox.admin("/_admin/stats")["calls"] == third.stats.get("crisp_api/requests", 0)
    assert index_of(data_dir)[on_api]["attempts"] == 2


def test_a_file_over_the_size_cap_is_refused_and_recorded(sandbox_factory, data_dir):
    """CRISP_FILES_MAX_SIZE sous la taille des gros fichiers du bac à sable (3 Mio) : chacun
    est abandonné dès l'en-tête, noté « trop_gros », sans fichier gardé ni partiel ; les
    autres passent ; le récapitulatif compte les échecs."""
    sandbox = sandbox_factory(seed=SEED, conversations=20)
    truth = truth_refs(sandbox)
    kinds = {key: media_kind(SEED, token_of(url)) for key, url in truth.items()}
    assert "large" in kinds.values()
    export(sandbox, data_dir, "conversations")
    result = export(sandbox, data_dir, CRISP_FILES_MAX_SIZE=1024 * 1024)
    index = index_of(data_dir)
    assert set(index) == set(truth)
    for key, kind in kinds.items():
        line = index[key]
        if kind == "large":
            assert (line["status"], line["size"], line["checksum"]) == ("trop_gros", None, None)
            assert not (data_dir / line["path"]).exists()
        elif kind == "missing":
            assert line["status"] == "http_404"
        else:
            assert line["status"] == "ok", line
            assert_file_matches(data_dir, line)
    failed = sum(kind in ("large", "missing") for kind in kinds.values())
    assert result.stats["files/failed"] == failed
    assert f"{len(truth) - failed} téléchargée(s), {failed} en échec" in result.log
    folder = data_dir / "conversations" / "fichiers"
    assert sum(1 for path in folder.rglob("*") if path.is_file()) == len(truth) - failed


def test_hostile_names_and_file_urls_stay_inside_the_data_directory(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(seed=SEED, conversations=12)
    data_dir = tmp_path / "data"
    media = sandbox.admin("/_admin/config")["media_url"]
    tokens = [t for t in (f"jeton-{n}" for n in range(200)) if media_kind(SEED, t) == "ok"]
    names = ["../../../evil.txt", "/etc/passwd", "..\\..\\boot.ini", "nul\x00octet.txt",
             "n" * 300 + ".pdf", ".."]
    keys = file_messages(sandbox, len(names) + 1)
    assert len(keys) == len(names) + 1 and len(tokens) >= len(names)
    for key, name, token in zip(keys[:-1], names, tokens[:len(names)], strict=True):
        edit(sandbox, key, {"name": name, "url": f"{media}/{token}/x", "type": "text/plain"})
    secret = tmp_path / "secret.txt"
    secret.write_text("ne doit jamais être copié")
    edit(sandbox, keys[-1], {"name": "secret.txt", "url": secret.as_uri(), "type": "text/plain"})
    export(sandbox, data_dir, "conversations")
    reset_counters(sandbox)
    export(sandbox, data_dir)

    index = index_of(data_dir)
    for key in keys[:-1]:
        line = index[key]
        assert line["status"] == "ok"
        assert_file_matches(data_dir, line)
    assert index[keys[-1]]["status"] == "schema_refuse"
    assert not (data_dir / index[keys[-1]]["path"]).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "secret.txt"]
    copies = [p for p in data_dir.rglob("*") if p.is_file() and p.read_bytes() == secret.read_bytes()]
    assert copies == []


def test_files_of_an_earlier_export_are_fetched_by_the_account_command(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=SEED, conversations=12)
    export(sandbox, data_dir, "account", CRISP_FILES_ENABLED=0)
    assert not (data_dir / "conversations" / "fichiers.jsonl").exists()
    assert media_stats(sandbox)["requests"] == 0
    truth = truth_refs(sandbox)

    # Rien n'a changé côté API : tout vient du rattrapage des messages déjà sur disque.
    reset_counters(sandbox)
    result = export(sandbox, data_dir, "account")
    index = index_of(data_dir)
    assert set(index) == set(truth)
    assert media_stats(sandbox)["requests"] == len(truth)
    assert sandbox.admin("/_admin/stats")["by_kind"]["messages"] == 0
    assert all(line["status"] == "ok" for key, line in index.items()
               if media_kind(SEED, token_of(truth[key])) != "missing")
    assert "Pièces jointes : " in result.log

    reset_counters(sandbox)
    export(sandbox, data_dir, "account")
    assert set(media_stats(sandbox)["by_token"]) == {
        token_of(url) for url in truth.values() if media_kind(SEED, token_of(url)) == "missing"}


def test_sigkill_during_a_slow_download_then_rerun_is_consistent(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=SEED, conversations=30, media_slow_seconds=30)
    truth = truth_refs(sandbox)
    slow = {token_of(url) for url in truth.values() if media_kind(SEED, token_of(url)) == "slow"}
    export(sandbox, data_dir, "conversations")
    process = start_crawl("messages", data_dir, sandbox.env(), args={"nb": 1000})
    deadline = time.monotonic() + 60
    while not slow & set(media_stats(sandbox)["by_token"]):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    time.sleep(1.0)  # le corps du fichier lent arrive : le téléchargement est en cours
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()

    index = lines_after_kill(data_dir / "conversations/fichiers.jsonl")
    for line in index.values():
        if line["status"] == "ok":
            assert token_of(line["url"]) not in slow
            assert_file_matches(data_dir, line)
    # Fichiers complets déjà notés : l'un tronqué, l'autre effacé, hors de l'export.
    ok_lines = [line for line in index.values() if line["status"] == "ok"]
    assert len(ok_lines) >= 2
    (data_dir / ok_lines[0]["path"]).write_bytes(b"tronque")
    (data_dir / ok_lines[1]["path"]).unlink()

    reset_counters(sandbox)
    export(sandbox, data_dir, CRISP_FILES_TIMEOUT=1)
    index = index_of(data_dir)
    assert set(index) == set(truth)
    requested = set(media_stats(sandbox)["by_token"])
    assert {token_of(ok_lines[0]["url"]), token_of(ok_lines[1]["url"])} <= requested
    assert not requested & {token_of(line["url"]) for line in ok_lines[2:]}
    for key, line in index.items():
        kind = media_kind(SEED, token_of(truth[key]))
        expected = {"slow": "timeout", "missing": "http_404"}.get(kind, "ok")
        assert line["status"] == expected, line
        if expected == "ok":
            assert_file_matches(data_dir, line)
    leftovers = [p for p in (data_dir / "conversations/fichiers").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


class AttachmentWrite(TempFileCreated):
    """Dès la création du temporaire de l'écriture atomique d'une pièce jointe donnée."""

    def __init__(self, relative_dir: str, fingerprint: int):
        self.relative_dir, self.prefix = relative_dir, f".{fingerprint}-"
        self.description = "pendant l'écriture sur disque d'un gros fichier (3 Mio)"

    def matches(self, name: str) -> bool:
        return name.startswith(self.prefix)


def test_sigkill_while_an_attachment_is_written_then_rerun(sandbox_factory, data_dir):
    """SIGKILL pendant l'écriture atomique d'un gros fichier (son temporaire existe) : aucun
    fichier à son nom, l'index ne le dit pas gardé ; la relance retire le temporaire, le
    télécharge, et l'index est exact.

    Le temporaire ne vit que le temps d'écrire et de fsync 3 Mio : l'arrêt est retenté
    depuis l'export d'avant la tentative tant qu'il tombe à côté (write_kills.py)."""
    sandbox = sandbox_factory(seed=SEED, conversations=30)
    truth = truth_refs(sandbox)
    key = next(key for key, url in truth.items() if media_kind(SEED, token_of(url)) == "large")
    folder = f"conversations/fichiers/{session_dir(key[0])}"
    export(sandbox, data_dir, "conversations")
    (data_dir / folder).mkdir(parents=True)  # surveillé (inotify) avant que l'export y écrive
    trigger = AttachmentWrite(folder, key[1])
    outcome = kill_during_write("messages", sandbox, data_dir, trigger, folder, data_dir,
                                args={"nb": 1000})
    left = [name for name in outcome.temp_left if trigger.matches(name)]
    assert left, "le SIGKILL n'est jamais tombé pendant l'écriture"
    written = [p.name for p in (data_dir / folder).iterdir() if not is_temp(p.name)]
    assert not [name for name in written if name.startswith(f"{key[1]}-")]
    index = lines_after_kill(data_dir / "conversations/fichiers.jsonl")
    assert index.get(key, {}).get("status") != "ok"
    for line in index.values():
        if line["status"] == "ok":
            assert_file_matches(data_dir, line)

    export(sandbox, data_dir)
    index = index_of(data_dir)
    assert set(index) == set(truth)
    assert index[key]["status"] == "ok"
    for line in index.values():
        if line["status"] == "ok":
            assert_file_matches(data_dir, line)
    leftovers = [p for p in (data_dir / "conversations/fichiers").rglob("*") if is_temp(p.name)]
    assert leftovers == []
