"""``scrapy report`` : un vrai export du bac à sable, puis la vraie commande (sous-processus,
sans aucun identifiant), comparée à la vérité du bac à sable ; le rapport ouvert dans un vrai
Chromium sans écran."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.support import chromium
from tests.support.crawling import ROOT, crawl_env, read_jsonl
from tests.support.reporting import count, query, run_report

TABLES = ("conversations", "messages", "people", "files")


def expected_text(content):
    """La règle documentée (docs/analyse.md), réécrite indépendamment du SQL."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        for key in ("text", "name", "url", "namespace"):
            if isinstance(content.get(key), str) and content[key]:
                return content[key]
    return None


def message_lines(data_dir: Path) -> int:
    return sum(len(read_jsonl(path)) for path in (data_dir / "conversations" / "messages").glob("*.jsonl"))


def test_database_equals_the_export_and_the_truth_without_credentials(report_account):
    data_dir, conversations, truth = report_account
    result = run_report(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Base d'analyse : " in result.stdout and "aucune ligne ignorée" in result.stdout
    assert str(data_dir / "analyse" / "rapport.html") in result.stdout
    # Tables = fichiers = vérité du bac à sable.
    assert count(data_dir, "conversations") == len(read_jsonl(
        data_dir / "conversations" / "conversations.jsonl")) == len(conversations)
    total = sum(len(messages) for messages in truth.values())
    assert count(data_dir, "messages") == message_lines(data_dir) == total
    assert count(data_dir, "people") == len(read_jsonl(data_dir / "utilisateurs" / "utilisateurs.jsonl"))
    # L'index réel des pièces jointes de l'export : une ligne par message à fichier.
    index = read_jsonl(data_dir / "conversations" / "fichiers.jsonl")
    file_messages = sum(1 for msgs in truth.values() for m in msgs
                        if m["type"] in ("file", "audio", "animation"))
    assert len(index) == file_messages > 0
    assert count(data_dir, "files") == len(index)
    assert query(data_dir, "SELECT count(*) FROM files WHERE kept")[0][0] == \
        sum(1 for line in index if line["status"] == "ok")
    rows = query(data_dir, 'SELECT session_id, fingerprint, epoch_ms(time), type, "from", text, '
                           "operator, edited, file_url FROM messages")
    got = {(row[0], row[1]): row[2:] for row in rows}
    for session_id, messages in truth.items():
        for message in messages:
            operator = message["user"]["nickname"] if message["from"] == "operator" else None
            url = message["content"].get("url") if message["type"] in ("file", "audio", "animation") else None
            assert got[(session_id, message["fingerprint"])] == (
                message["timestamp"], message["type"], message["from"],
                expected_text(message["content"]), operator, message["edited"], url)
    # Conversations : méta aplatie, horodatages en TIMESTAMP.
    by_id = {c["session_id"]: c for c in conversations}
    for session_id, email, created, state, has_email in query(
            data_dir, "SELECT session_id, email, epoch_ms(created_at), state, has_email FROM conversations"):
        assert email == by_id[session_id]["meta"].get("email")
        assert created == by_id[session_id]["created_at"] and state == by_id[session_id]["state"]
        assert has_email == ("email" in by_id[session_id]["meta"])
    # Vues : premier délai de réponse recalculé en Python depuis la vérité.
    views = dict(((row[0], row[1]) for row in query(
        data_dir, "SELECT session_id, first_response_seconds FROM first_response")))
    for session_id, messages in truth.items():
        asked = [m["timestamp"] for m in messages if m["from"] == "user"]
        if not asked:
            assert session_id not in views
            continue
        replies = [m["timestamp"] for m in messages if m["from"] == "operator" and m["timestamp"] >= min(asked)
                   and m["type"] not in ("note", "event") and not m["automated"]]
        assert views[session_id] == ((min(replies) - min(asked)) / 1000 if replies else None)
    per_day = query(data_dir, "SELECT sum(messages) FROM messages_per_day")[0][0]
    assert per_day == total
    resolved = query(data_dir, "SELECT count(*) FROM resolution_time WHERE resolution_seconds IS NOT NULL")[0][0]
    assert resolved == sum(1 for c in conversations if c["state"] == "resolved" and truth[c["session_id"]])
    # Parquet : les mêmes tables, lisibles sans la base.
    for table in TABLES:
        parquet = data_dir / "analyse" / "parquet" / f"{table}.parquet"
        assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchall()[0][0] == count(data_dir, table)
    page = (data_dir / "analyse" / "rapport.html").read_text(encoding="utf-8")
    assert "Premier délai de réponse" in page and "État de l'export" in page
    # Complet ; les pièces jointes en échec de l'index (404 du bac à sable), s'il y en a, dites
    # dans la conclusion (et listées : test_report_failed_files.py).
    failed = sum(1 for line in index if line["status"] != "ok")
    assert ("Export complet et à jour" if not failed else
            f"Compte complet, {failed} pièce{'s' if failed > 1 else ''} jointe"
            f"{'s' if failed > 1 else ''} en échec") in page


def test_attachment_index_fills_the_files_table(report_account):
    data_dir, _, truth = report_account
    with_files = [(sid, m) for sid, messages in truth.items() for m in messages
                  if m["type"] in ("file", "audio", "animation")]
    assert len(with_files) >= 3
    index = []
    for number, (session_id, message) in enumerate(with_files):
        ok = number % 3 != 0
        index.append({"session_id": session_id, "fingerprint": message["fingerprint"],
                      "url": message["content"]["url"], "path": f"conversations/fichiers/{number}" if ok else None,
                      "size": 1000 + number if ok else None, "checksum": "sha256:" + "ab" * 32 if ok else None,
                      "status": "ok" if ok else "http_404"})
    with open(data_dir / "conversations" / "fichiers.jsonl", "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(line) + "\n" for line in index)
    result = run_report(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    kept = [line for line in index if line["status"] == "ok"]
    assert count(data_dir, "files") == len(index)
    assert query(data_dir, "SELECT count(*), sum(size) FROM files WHERE kept")[0] == (
        len(kept), sum(line["size"] for line in kept))
    page = (data_dir / "analyse" / "rapport.html").read_text(encoding="utf-8")
    assert "Pièces jointes" in page and "Pas d'index" not in page


def test_corrupt_lines_are_skipped_and_reported_never_fatal(report_account):
    data_dir, _, truth = report_account
    files = sorted((data_dir / "conversations" / "messages").glob("*.jsonl"),
                   key=lambda path: -len(read_jsonl(path)))
    # Une ligne tronquée au milieu d'un fichier, une ligne qui n'est pas du JSON à la fin d'un
    # autre, et une ligne en latin-1 (récupérée, comme partout dans le projet).
    lines = files[0].read_bytes().splitlines(keepends=True)
    files[0].write_bytes(b"".join(lines[:2] + [b'{"fingerprint": 12, "trunc\n'] + lines[2:]))
    with open(files[1], "ab") as handle:
        handle.write(b"pas du json\n")
    latin = json.loads(files[2].read_bytes().splitlines()[0])
    latin["fingerprint"] += 1
    latin["content"] = "caf\u00e9"
    with open(files[2], "ab") as handle:
        handle.write(json.dumps(latin, ensure_ascii=False).encode("latin-1") + b"\n")
    conversations = data_dir / "conversations" / "conversations.jsonl"
    with open(conversations, "a", encoding="utf-8") as handle:
        handle.write('{"session_id": \n')
    result = run_report(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 ligne(s) illisible(s) ou sans identifiant ignorée(s)" in result.stdout
    assert "messages : 2 (" in result.stdout and "conversations : 1 (" in result.stdout
    total = sum(len(messages) for messages in truth.values())
    assert count(data_dir, "messages") == total + 1
    assert query(data_dir, "SELECT text FROM messages WHERE fingerprint = ?", [latin["fingerprint"]]) == [("café",)]
    assert count(data_dir, "conversations") == len(truth)
    assert (data_dir / "analyse" / "rapport.html").is_file()


def test_rebuild_replaces_everything_at_once(report_account):
    data_dir, _, truth = report_account
    assert run_report(data_dir).returncode == 0
    analysis = data_dir / "analyse"
    before = {name: (analysis / name).stat().st_ino
              for name in ("crisp.duckdb", "rapport.html", "parquet")}
    # Un reste d'une construction tuée (processus disparu) : retiré par la suivante.
    leftover = analysis / ".construction-999999999-x"
    leftover.mkdir()
    (leftover / "crisp.duckdb").write_bytes(b"moitie")
    gone = next(iter(truth))
    (data_dir / "conversations" / "messages" / f"{gone}.jsonl").unlink()
    result = run_report(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    for name, inode in before.items():
        assert (analysis / name).stat().st_ino != inode, f"{name} n'a pas été remplacé"
    assert count(data_dir, "messages") == sum(len(m) for sid, m in truth.items() if sid != gone)
    assert sorted(path.name for path in analysis.iterdir()) == ["crisp.duckdb", "parquet", "rapport.html"]
    assert sorted(path.name for path in (analysis / "parquet").iterdir()) == sorted(f"{t}.parquet" for t in TABLES)
    assert oct((analysis / "crisp.duckdb").stat().st_mode & 0o777) == "0o600"


def test_no_export_is_a_french_error_and_writes_nothing(tmp_path):
    result = run_report(tmp_path)
    assert result.returncode == 1
    assert "Aucun export dans" in result.stdout
    assert not (tmp_path / "analyse").exists()


SVG_PROBE = """Array.from(document.querySelectorAll('svg')).map(svg => {
  const box = svg.getBoundingClientRect();
  return [svg.querySelectorAll('rect, circle, polyline').length, box.width, box.height];
})"""


def test_report_opens_offline_in_a_real_chromium(report_account, tmp_path):
    if not chromium.available():
        # En CI (.ci/run installe Chromium), un navigateur absent ne doit pas passer inaperçu.
        if os.environ.get(chromium.REQUIRED) == "1":
            pytest.fail("Chromium introuvable (chromium, chromium-browser) alors que la CI "
                        "l'exige : apt-get install chromium")
        pytest.skip("chromium absent (apt-get install chromium)")
    data_dir, _, _ = report_account
    assert run_report(data_dir).returncode == 0
    page = data_dir / "analyse" / "rapport.html"
    visit = chromium.open_page(page, SVG_PROBE)
    assert visit.console_errors == []
    assert visit.failed == []
    assert visit.requests == [page.resolve().as_uri()]  # rien d'autre que le fichier lui-même
    charts = visit.value
    assert len(charts) >= 8
    for shapes, width, height in charts:
        assert shapes > 0 and width > 100 and height > 10
    assert visit.screenshot.startswith(b"\x89PNG") and len(visit.screenshot) > 10_000
    (tmp_path / "rapport.png").write_bytes(visit.screenshot)


def test_website_option_reads_the_site_directory_and_refuses_a_bad_id(report_account, tmp_path):
    # -a website=ID range un site sous {CRISP_DATA_DIR}/{ID} : --website ID y lit.
    site = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
    root = tmp_path / "plusieurs-sites"
    shutil.copytree(report_account[0], root / site)
    env = {**crawl_env({}, root)}
    done = subprocess.run([sys.executable, "-m", "scrapy", "report", "--website", site.upper()],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / site / "analyse" / "crisp.duckdb").is_file()
    assert count(root / site, "messages") == message_lines(root / site)
    bad = subprocess.run([sys.executable, "-m", "scrapy", "report", "--website", "../x"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1
    assert "invalide" in bad.stdout
    assert sorted(p.name for p in root.iterdir()) == [site]
