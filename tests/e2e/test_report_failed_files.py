"""``scrapy report`` et les pièces jointes en échec : après un vrai ``scrapy crawl account``
du bac à sable (graine 3, fixture report_export : quelques fichiers y répondent 404), le
rapport dit le compte complet AVEC ses pièces en échec, et liste exactement celles de l'index
sur disque, qui sont celles que le bac à sable ne sert pas."""

from __future__ import annotations

import re
from html import unescape

from crispsandbox.media import media_kind
from crispscrape.file_refs import FILE_TYPES
from tests.support.crawling import read_jsonl
from tests.support.reporting import run_report

SEED = 3  # celle de la fixture report_export (tests/e2e/conftest.py)
ROW = re.compile(r'<tr class="failed-file"><td>(.*?)</td><td>(\d+)</td><td>(.*?)</td>'
                 r"<td>(.*?) <code>(.*?)</code></td><td>(.*?)</td></tr>")


def listed_failures(page: str) -> list[tuple]:
    return [(unescape(session), int(fingerprint), unescape(name), unescape(reason),
             unescape(status), unescape(then))
            for session, fingerprint, name, reason, status, then in ROW.findall(page)]


def test_report_lists_exactly_the_failed_files_of_the_index(report_account):
    data_dir, _, truth = report_account
    missing = sorted(
        (session_id, message["fingerprint"]) for session_id, messages in truth.items()
        for message in messages if message["type"] in FILE_TYPES
        and media_kind(SEED, message["content"]["url"].split("/media/", 1)[1].split("/")[0])
        == "missing")
    assert len(missing) >= 2  # sans pièce manquante, le test ne prouverait rien
    index = read_jsonl(data_dir / "conversations" / "fichiers.jsonl")
    failed = {(line["session_id"], line["fingerprint"]): line for line in index
              if line["status"] != "ok"}
    assert sorted(failed) == missing

    result = run_report(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr  # les échecs n'y changent rien
    page = (data_dir / "analyse" / "rapport.html").read_text(encoding="utf-8")
    state = page[page.index("<h2>État de l'export</h2>"):page.index("<h2>Activité")]
    verdict = (f"Compte complet, {len(missing)} pièces jointes en échec (retentées au "
               "prochain lancement)")
    assert f'<p class="state pending"><b>{verdict}</b>' in state
    assert "Export complet et à jour" not in page

    rows = listed_failures(page)
    assert [(row[0], row[1]) for row in rows] == missing  # triées, ni plus ni moins
    for session_id, fingerprint, name, reason, status, then in rows:
        line = failed[(session_id, fingerprint)]
        assert status == line["status"] == "http_404"
        assert reason == "introuvable (HTTP 404)"
        assert line["path"].endswith(f"/{fingerprint}-{name}")
        assert then == f"retentée au prochain lancement (essais : {line['attempts']} sur 3)"
    assert f"{len(missing)} pièce(s) : retentées au prochain lancement" in page
