"""Pièces jointes sans réseau : URL extraites des messages, noms sûrs, index (storage/file_index.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError

from crispscrape.api import QuotaExceeded
from crispscrape.file_refs import (
    MAX_NAME_BYTES, FileRef, file_refs, safe_file_name, scheme_allowed, session_dir,
)
from crispscrape.pipelines.file_failures import attempts_before, failure_reason, settled, to_retry
from crispscrape.storage.file_index import AttachmentIndex, Entry


def message(kind, content, fingerprint=1):
    return {"type": kind, "fingerprint": fingerprint, "content": content, "session_id": "autre"}


def test_urls_come_from_file_audio_and_animation_only():
    messages = [
        message("file", {"name": "a.pdf", "url": "https://h/x/a.pdf", "type": "application/pdf"}, 1),
        message("audio", {"url": "https://h/y/voix.webm", "type": "audio/webm", "duration": 3}, 2),
        message("animation", {"url": "https://h/z/anim.gif", "type": "image/gif"}, 3),
        message("text", "voir https://h/texte.pdf", 4),
        message("carousel", {"url": "https://h/c", "targets": []}, 5),
        message("file", {"name": "sans-url.pdf"}, 6),
        message("file", "contenu inattendu", 7),
        message("file", {"url": "https://h/x"}, "pas-un-entier"),
    ]
    refs = file_refs("session_1", messages)
    assert [(r.fingerprint, r.url) for r in refs] == [
        (1, "https://h/x/a.pdf"), (2, "https://h/y/voix.webm"), (3, "https://h/z/anim.gif")]
    # La clé est la conversation du fichier, pas le champ session_id du message.
    assert {r.session_id for r in refs} == {"session_1"}
    assert [r.relpath for r in refs] == ["session_1/1-a.pdf", "session_1/2-voix.webm",
                                         "session_1/3-anim.gif"]
    assert refs[0].path == "conversations/fichiers/session_1/1-a.pdf"


@pytest.mark.parametrize("name", [
    "../../../etc/passwd", "/etc/passwd", "..\\..\\windows\\system.ini", "a\x00b.txt",
    "x" * 300 + ".pdf", "..", ".", "", ".cache", "con:fig?.txt", "\u202etxt.exe", 42, None,
    "é" * 200 + ".png",
])
def test_hostile_names_become_one_safe_component(name):
    safe = safe_file_name(name)
    assert safe and "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not safe.startswith(".") and safe not in (".", "..")
    assert len(safe.encode()) <= MAX_NAME_BYTES
    assert all(ch.isprintable() for ch in safe)


def test_safe_names_keep_ordinary_names_and_extensions():
    assert safe_file_name("capture d'écran.png") == "capture d'écran.png"
    assert safe_file_name("relevé_été.xlsx") == "relevé_été.xlsx"
    assert safe_file_name("../../etc/passwd") == "passwd"
    assert safe_file_name("x" * 300 + ".pdf").endswith(".pdf")
    assert safe_file_name("a\x00b.txt") == "ab.txt"


def test_hostile_session_ids_never_become_paths():
    assert session_dir("session_abc-1") == "session_abc-1"
    for hostile in ("..", "../x", "/abs", "a\x00b", "x" * 300, "-rf", ".cache", "a/b"):
        folder = session_dir(hostile)
        assert folder.startswith("session-") and len(folder) == 24
        assert "/" not in folder and folder != ".."
    assert session_dir("../x") == session_dir("../x") != session_dir("../y")


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://storage.crisp.chat/a.pdf", True), ("http://localhost:1/a", True),
    ("HTTPS://h/a", True), ("file:///etc/passwd", False), ("ftp://h/a", False),
    ("data:text/plain,x", False), ("javascript:alert(1)", False), ("https://", False),
    ("//h/a", False), ("http://[::1", False),
])
def test_only_http_and_https_are_fetched(url, allowed):
    assert scheme_allowed(url) is allowed


def test_failure_reasons():
    assert failure_reason(DownloadTimeoutError()) == "timeout"
    assert failure_reason(DownloadCancelledError("larger than download max size (5)")) == "trop_gros"
    assert failure_reason(QuotaExceeded("arrêt")) == "interrompu"
    assert failure_reason(RuntimeError("?")) == "erreur_reseau"


def entry(status, fingerprint=1, url="https://h/a", size=None, attempts=0):
    return Entry("s", fingerprint, url, f"conversations/fichiers/s/{fingerprint}-a", size,
                 None, status, attempts)


def ref(fingerprint=1, url="https://h/a"):
    return FileRef("s", fingerprint, url, f"s/{fingerprint}-a")


def test_index_keeps_one_line_per_key_and_trusts_ok_only_with_the_file(tmp_path: Path):
    index = AttachmentIndex(tmp_path, max_attempts=2)
    index.open()
    target = tmp_path / "conversations/fichiers/s/1-a"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"abc")
    index.record([entry("http_404", attempts=1)])
    index.record([entry("ok", size=3)])
    index.record([entry("timeout", fingerprint=2, attempts=2)])
    index.close()
    lines = (tmp_path / "conversations/fichiers.jsonl").read_text().splitlines()
    assert len(lines) == 2
    reopened = AttachmentIndex(tmp_path, max_attempts=2)
    reopened.open()
    assert settled(reopened, ref()) == "ok"
    assert settled(reopened, ref(2)) == "abandoned"
    # Une autre URL pour le même message (modifié) : tout recommence.
    assert settled(reopened, ref(url="https://h/b")) is None
    assert attempts_before(reopened, ref(url="https://h/b")) == 0
    # Fichier tronqué : la ligne ok n'est plus crue.
    target.write_bytes(b"ab")
    truncated = AttachmentIndex(tmp_path, max_attempts=2)
    truncated.open()
    assert settled(truncated, ref()) is None
    assert [r.key for r in to_retry(truncated)] == [("s", 1)]


def test_index_survives_a_torn_last_line_and_duplicates(tmp_path: Path):
    path = tmp_path / "conversations/fichiers.jsonl"
    path.parent.mkdir(parents=True)
    index = AttachmentIndex(tmp_path, max_attempts=3)
    index.open()
    index.record([entry("http_404", attempts=1)])
    index.record([entry("http_404", attempts=2)])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"session_id": "s", "fingerp')
    reopened = AttachmentIndex(tmp_path, max_attempts=3)
    reopened.open()
    assert attempts_before(reopened, ref()) == 2
    assert len(path.read_text().splitlines()) == 1
    # Un temporaire d'écriture interrompue n'est jamais pris pour un fichier.
    leftover = tmp_path / "conversations/fichiers/s/.1-a.abcd1234.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"moitie")
    AttachmentIndex(tmp_path, max_attempts=3).open()
    assert not leftover.exists()


def test_store_writes_atomically_private_and_never_outside(tmp_path: Path):
    from io import BytesIO

    from crispscrape.pipelines.attachment_store import AttachmentStore

    store = AttachmentStore(str(tmp_path / "fichiers"))
    store.persist_file("s/1-a.pdf", BytesIO(b"%PDF"), info=None)
    written = tmp_path / "fichiers/s/1-a.pdf"
    assert written.read_bytes() == b"%PDF"
    assert os.stat(written).st_mode & 0o777 == 0o600
    assert os.listdir(written.parent) == ["1-a.pdf"]
    for hostile in ("../evil", "s/../../evil", ""):
        with pytest.raises(ValueError):
            store.persist_file(hostile, BytesIO(b"x"), info=None)
    assert not (tmp_path / "evil").exists()
