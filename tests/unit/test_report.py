"""Base d'analyse et rapport : extraction du texte, petites fonctions, échappement, lecture
tolérante (DuckDB en mémoire ou sur des fichiers temporaires, sans sous-processus)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import duckdb
import pytest

from crispscrape.report import charts
from crispscrape.report.build import DatabaseBuilder
from crispscrape.report.figures import Figures, duration_text, percent
from crispscrape.report.page import render
from crispscrape.report.schema import MACROS, MESSAGE_FIELDS
from crispscrape.report.sources import ExportState, Sources


def text_of(content) -> str | None:
    """Le texte que la base donne à un message de ce contenu (même SQL que la construction)."""
    connection = duckdb.connect()
    connection.execute(MACROS)
    line = json.dumps({"fingerprint": 1, "content": content})
    return connection.execute(
        f"SELECT message_text(line, json_extract_string(line, {MESSAGE_FIELDS})) "
        "FROM (SELECT CAST(? AS JSON) AS line)", [line]).fetchall()[0][0]


@pytest.mark.parametrize("content, expected", [
    ("Bonjour 👋", "Bonjour 👋"),
    ('{"text": "pas un objet"}', '{"text": "pas un objet"}'),  # une chaîne reste une chaîne
    ({"name": "facture.pdf", "url": "https://x/f.pdf", "type": "application/pdf"}, "facture.pdf"),
    ({"url": "https://x/voix.webm", "type": "audio/webm", "duration": 3}, "https://x/voix.webm"),
    ({"text": "Nos offres", "name": "ignoré"}, "Nos offres"),
    ({"text": "", "name": "", "url": "", "namespace": "state:resolved"}, "state:resolved"),
    ({"id": "sans texte"}, None),
    ('{"a": 1}', '{"a": 1}'),  # chaîne au contenu JSON d'objet : le type est vérifié
    ([1, 2], "[1,2]"),
    (None, None),
    (42, "42"),
])
def test_text_is_extracted_from_every_content_shape(content, expected):
    assert text_of(content) == expected


def test_durations_and_percentages_in_french():
    assert duration_text(None) == "—"
    assert duration_text(42) == "42 s"
    assert duration_text(7 * 60) == "7 min"
    assert duration_text(3 * 3600 + 5 * 60) == "3 h 05"
    assert duration_text(2.5 * 86400) == "2,5 j"
    assert percent(1, 4) == "25 %" and percent(1, 0) == "—"


def test_user_strings_are_escaped_in_charts_and_page():
    hostile = '<script>alert("x")</script>'
    svg = charts.hbars([(hostile, 3)], hostile)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    figures = Figures(conversations=1, operators=[(hostile, 3)])
    state = ExportState(complete=False, as_of=None, lines=["x", f"  {hostile}"], remaining=hostile)
    page = render(figures, state, hostile, datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert "<script>" not in page
    assert page.count("&lt;script&gt;") >= 3


def test_build_reads_envelopes_bom_latin1_and_a_data_dir_with_glob_characters(tmp_path):
    data_dir = tmp_path / "export [copie]*"
    messages = data_dir / "conversations" / "messages"
    messages.mkdir(parents=True)
    conversation = {"session_id": "session_a", "created_at": 1_700_000_000_000, "state": "resolved",
                    "meta": {"email": "Ana@Example.com", "device": {"geolocation": {"city": "Lyon"}}}}
    # Ancien export : la conversation dans une enveloppe {"error", "reason", "data"}.
    (data_dir / "conversations" / "conversations.jsonl").write_text(
        json.dumps({"error": False, "reason": "resolved", "data": conversation}) + "\n")
    first = {"session_id": "session_a", "fingerprint": 1, "timestamp": 1_700_000_000_000,
             "type": "text", "from": "user", "content": "un"}
    second = {**first, "fingerprint": 2, "content": "caf\u00e9"}
    (messages / "session_a.jsonl").write_bytes(
        b"\xef\xbb\xbf" + json.dumps(first).encode() + b"\n"
        + json.dumps(second, ensure_ascii=False).encode("latin-1") + b"\n\n")
    users = data_dir / "utilisateurs"
    users.mkdir()
    (users / "utilisateurs.jsonl").write_text(json.dumps({"email": "ana@example.com"}) + "\n")
    result = DatabaseBuilder(Sources(data_dir)).build()
    assert result.skipped_lines == 0
    assert result.rows == {"conversations": 1, "messages": 2, "people": 1, "files": 0}
    connection = duckdb.connect(str(result.database), read_only=True)
    assert connection.execute("SELECT email, city, has_email, has_profile, epoch_ms(created_at) "
                              "FROM conversations").fetchall() == [
        ("Ana@Example.com", "Lyon", True, True, 1_700_000_000_000)]
    assert connection.execute("SELECT text FROM messages ORDER BY fingerprint").fetchall() == [
        ("un",), ("café",)]


def test_an_error_while_loading_single_files_fails_the_build_and_installs_nothing(
        tmp_path, monkeypatch):
    """Profils, conversations et index se chargent sur un fil à part, pendant les messages :
    une erreur de ce fil arrête la construction (relevée telle quelle), aucune base ni
    Parquet n'est mis en place, aucun répertoire de travail ne reste."""
    data_dir = tmp_path / "data"
    messages = data_dir / "conversations" / "messages"
    messages.mkdir(parents=True)
    (data_dir / "conversations" / "conversations.jsonl").write_text(
        json.dumps({"session_id": "session_a"}) + "\n")
    (messages / "session_a.jsonl").write_text(
        json.dumps({"session_id": "session_a", "fingerprint": 1, "content": "un"}) + "\n")
    loaded = []
    original = DatabaseBuilder._load

    def failing_load(self, connection, table, *args):
        loaded.append(table)
        if table == "conversations":
            raise OSError("disque plein (simulé)")
        return original(self, connection, table, *args)

    monkeypatch.setattr(DatabaseBuilder, "_load", failing_load)
    with pytest.raises(OSError, match="disque plein"):
        DatabaseBuilder(Sources(data_dir)).build()
    assert sorted(loaded) == ["conversations", "messages"]
    assert [entry.name for entry in (data_dir / "analyse").iterdir()] == []


def test_a_failed_messages_load_interrupts_the_side_connection(tmp_path, monkeypatch):
    """Le chargement des messages échoue (ou Ctrl-C) pendant que le fil secondaire lit
    encore : sa requête est interrompue (DuckDB n'arrête que celle de la connexion qui
    reçoit l'erreur), et c'est l'erreur d'origine qui remonte, pas « connection is busy »."""
    data_dir = tmp_path / "data"
    messages = data_dir / "conversations" / "messages"
    messages.mkdir(parents=True)
    (data_dir / "conversations" / "conversations.jsonl").write_text("{}\n")
    (messages / "session_a.jsonl").write_text("{}\n")
    outcome = []

    def endless_side_load(self, cursor, work, result, failures):
        with cursor:
            try:  # une vingtaine de secondes si personne ne l'arrête
                cursor.execute("SELECT sum(hash(i)) FROM range(3000000000) t(i)").fetchall()
                outcome.append("terminée")
            except duckdb.InterruptException:
                outcome.append("interrompue")

    def failing_messages_load(self, connection, table, *args):
        time.sleep(0.3)  # la requête du fil secondaire tourne
        raise OSError("disque plein (simulé)")

    monkeypatch.setattr(DatabaseBuilder, "_fill_single_files", endless_side_load)
    monkeypatch.setattr(DatabaseBuilder, "_load", failing_messages_load)
    with pytest.raises(OSError, match="disque plein"):
        DatabaseBuilder(Sources(data_dir)).build()
    assert outcome == ["interrompue"]
    assert [entry.name for entry in (data_dir / "analyse").iterdir()] == []
