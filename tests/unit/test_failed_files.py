"""Causes des erreurs système en français (storage/paths.os_reason), répertoire de données
à lire (data_dir_problem), et pièces jointes en échec lues dans l'index (AccountStatus,
rapport) : la logique seule, sur de vrais fichiers temporaires."""

from __future__ import annotations

import errno
import json
import os

import pytest

from crispscrape.report.failures import failed_files, reason_text
from crispscrape.status import AccountStatus
from crispscrape.storage.file_index import read_failures
from crispscrape.storage.files import StorageError
from crispscrape.oserrors import _CAUSES, os_reason
from crispscrape.commands.data_dir import data_dir_problem

REQUIRED = ("ENOTDIR", "EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "ENAMETOOLONG", "ENOENT",
            "EEXIST", "EISDIR")


@pytest.mark.parametrize("name", REQUIRED)
def test_each_required_errno_has_a_french_cause_never_the_english_one(name):
    code = getattr(errno, name)
    exc = OSError(code, os.strerror(code), "/tmp/x")
    cause = os_reason(exc)
    assert cause == _CAUSES[code]
    assert os.strerror(code).lower() not in cause.lower()
    # Les sous-classes que lève Python (PermissionError, NotADirectoryError…) aussi.
    assert os_reason(type(exc)(code, os.strerror(code))) == cause


def test_disk_full_quota_and_read_only_as_raised_by_a_write():
    assert os_reason(OSError(errno.ENOSPC, "No space left on device")) == \
        "plus de place sur le disque"
    assert os_reason(OSError(errno.EDQUOT, "Disk quota exceeded")) == "quota de disque dépassé"
    assert os_reason(OSError(errno.EROFS, "Read-only file system")) == \
        "système de fichiers en lecture seule"


def test_unknown_errno_falls_back_to_strerror_then_to_the_text():
    assert os_reason(OSError(errno.EXDEV, "Invalid cross-device link")) == \
        "Invalid cross-device link"
    assert os_reason(StorageError("Fichier illisible")) == "Fichier illisible"
    assert os_reason(OSError()) == "OSError"


def test_data_dir_problem_names_the_path_and_the_setting(tmp_path):
    assert data_dir_problem(tmp_path) is None
    missing = data_dir_problem(tmp_path / "absent")
    assert str(tmp_path / "absent") in missing and "(CRISP_DATA_DIR)" in missing
    assert "« scrapy crawl account »" in missing
    site = data_dir_problem(tmp_path / "absent" / "site", website="site")
    assert "({CRISP_DATA_DIR}/site)" in site and "« scrapy crawl account -a website=site »" in site
    blocker = tmp_path / "fichier"
    blocker.write_text("x")
    assert "c'est un fichier" in data_dir_problem(blocker)
    below = data_dir_problem(blocker / "sous")
    assert f"{blocker} est un fichier" in below
    long_name = data_dir_problem(tmp_path / ("a" * 300))
    assert "nom de fichier trop long" in long_name
    assert sorted(os.listdir(tmp_path)) == ["fichier"]  # rien de créé


def index_line(session, fingerprint, status, attempts=1):
    return {"session_id": session, "fingerprint": fingerprint, "url": "https://f/x",
            "path": f"conversations/fichiers/{session}/{fingerprint}-nom {fingerprint}.pdf",
            "size": 3 if status == "ok" else None, "checksum": None, "status": status,
            "attempts": attempts}


def write_index(data_dir, lines):
    folder = data_dir / "conversations"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "fichiers.jsonl", "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write((line if isinstance(line, str) else json.dumps(line)) + "\n")


def test_failures_are_read_last_line_wins_and_split_retried_or_abandoned(tmp_path):
    write_index(tmp_path, [
        index_line("a", 1, "http_404"),
        index_line("a", 1, "ok"),              # réussie ensuite : plus en échec
        index_line("a", 2, "ok"),
        index_line("a", 2, "timeout", 2),      # échouée ensuite : en échec
        index_line("b", 3, "http_404", 3),     # limite atteinte : abandonnée
        index_line("b", 4, "schema_refuse"),   # refus définitif : abandonnée
        index_line("b", 5, "interrompu", 7),   # interrompue par un arrêt : pas un échec
        index_line("b", 7, "timeout"),
        index_line("b", 7, "interrompu", 1),   # échouée puis interrompue : repart, pas en échec
        "{pas du json",
        index_line("c", 6, "connexion_refusee"),
    ])
    failures = read_failures(tmp_path)
    assert [(e.session_id, e.fingerprint, e.status) for e in failures] == [
        ("a", 2, "timeout"), ("b", 3, "http_404"), ("b", 4, "schema_refuse"),
        ("c", 6, "connexion_refusee")]
    assert failures[0].name == "nom 2.pdf"
    status = AccountStatus.read(tmp_path, files_max_attempts=3)
    assert (status.files_failed, status.files_abandoned) == (2, 2)
    assert status.files_text() == (
        "2 pièces jointes en échec (retentées au prochain lancement), 2 abandonnées (refus "
        "définitif ou CRISP_FILES_MAX_ATTEMPTS atteint : plus jamais demandées)")
    # Un essai de plus permis : la pièce à 3 échecs est de nouveau retentée.
    assert AccountStatus.read(tmp_path, files_max_attempts=4).files_failed == 3
    # Lecture seule : l'index n'a pas été réparé ni réécrit.
    assert "{pas du json" in (tmp_path / "conversations" / "fichiers.jsonl").read_text()


def test_complete_account_with_failed_files_says_so_and_stays_complete(tmp_path):
    status = AccountStatus(tmp_path, listing_started=True, history_complete=True)
    assert status.verdict() == "compte complet et à jour"
    status.files_failed = 1
    assert status.complete
    assert status.verdict() == ("compte complet, 1 pièce jointe en échec (retentée au prochain "
                                "lancement)")
    status.files_failed = 9
    assert status.verdict() == ("compte complet, 9 pièces jointes en échec (retentées au "
                                "prochain lancement)")
    assert status.lines(None)[-1].startswith(
        "  Compte complet, 9 pièces jointes en échec (retentées au prochain lancement) : ")
    status.never = 2
    assert status.verdict().startswith("il reste 2 conversation(s) ; 9 pièces jointes en échec")
    assert "  9 pièces jointes en échec (retentées au prochain lancement)." in status.lines(None)


def test_missing_index_means_no_failure(tmp_path):
    assert read_failures(tmp_path) == []
    status = AccountStatus.read(tmp_path)
    assert (status.files_failed, status.files_abandoned, status.files_text()) == (0, 0, "")


def test_report_table_lists_each_failure_with_a_french_reason(tmp_path):
    write_index(tmp_path, [index_line("s<1>", 1, "http_404"), index_line("s2", 2, "trop_gros", 3)])
    failures = [(entry, entry.attempts >= 3) for entry in read_failures(tmp_path)]
    html = failed_files(failures, 3)
    assert html.count('<tr class="failed-file">') == 2
    assert "s&lt;1&gt;" in html and "s<1>" not in html
    assert "introuvable (HTTP 404) <code>http_404</code>" in html
    assert "retentée au prochain lancement" in html and "abandonnée" in html
    assert reason_text("http_503") == "erreur du serveur (HTTP 503)"
    assert reason_text("inconnue") == "inconnue"
    assert failed_files([], 3) == ""
