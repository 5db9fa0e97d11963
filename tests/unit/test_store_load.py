"""Chargement des fichiers JSONL à une ligne par clé : conversations.jsonl (session_id),
utilisateurs.jsonl (e-mail), et la liste des systèmes « en avant » (``CatalogStore``).

Fichiers écrits à la main dans ``tmp_path``. Attentes : docs/conversations.md (« Sûreté des
fichiers », « Reprise des fichiers de conv.py », « Fichiers des profils », « Reprise du
fichier de users.py », statistiques) ; pour la liste Ninja/Wanzo, docs/sources.md et la
docstring de crispscrape/storage/catalog.py.
"""

from __future__ import annotations

import json
import logging
import os
from types import SimpleNamespace

import pytest
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from crispscrape.sources.ninja import NINJA
from crispscrape.storage.catalog import CatalogStore
from crispscrape.storage.conversations import ConversationsFile
from crispscrape.storage.files import StorageError
from crispscrape.storage.users import UsersFile

LOG = logging.getLogger("test")


@pytest.fixture
def stats():
    return MemoryStatsCollector(SimpleNamespace(settings=Settings()))


def line(obj) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def rows(path) -> list:
    return [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines()]


def conversation(session_id: str, last: int) -> dict:
    return {"session_id": session_id, "active": {"last": last}}


def load_conversations(path, stats):
    loaded = ConversationsFile(path, LOG, stats)
    loaded.load()
    return loaded


def load_users(path, stats):
    loaded = UsersFile(path, path.with_name(path.name + ".state.json"), LOG, stats)
    loaded.load()
    return loaded


# Chaque fichier : chargeur, préfixe de ses statistiques, i-ème enregistrement (rangés dans
# l'ordre du fichier trié), lignes JSON sans clé utilisable (« étrangères »).
KEYED = [
    pytest.param(load_conversations, "conversations", lambda i: conversation(f"s{i}", 1000 - i),
                 ['{"autre":   "objet"}\n', '{"session_id": ""}\n'], id="conversations"),
    pytest.param(load_users, "users", lambda i: {"email": f"p{i}@exemple.fr", "nom": f"P{i}"},
                 ['{"nom":   "sans adresse"}\n', '{"email": "pas-une-adresse"}\n'], id="users"),
]


# --- Politique commune : conversations.jsonl et utilisateurs.jsonl -------------------------------
@pytest.mark.parametrize("load, prefix, record, foreign", KEYED)
def test_truncated_last_line_is_removed_and_complete_lines_kept(tmp_path, stats, load, prefix,
                                                               record, foreign):
    path = tmp_path / "export.jsonl"
    complete = line(record(1)) + line(record(2))
    path.write_text(complete + line(record(3))[:12], encoding="utf-8")
    loaded = load(path, stats)
    assert len(loaded) == 2
    assert path.read_text(encoding="utf-8") == complete
    assert os.listdir(tmp_path) == ["export.jsonl"]  # réécrit d'un coup : aucun temporaire
    assert stats.get_value(f"{prefix}/truncated_line_repaired") == 1


@pytest.mark.parametrize("load, prefix, record, foreign", KEYED)
def test_complete_last_line_without_newline_is_not_taken_for_truncated(tmp_path, stats, load,
                                                                       prefix, record, foreign):
    path = tmp_path / "export.jsonl"
    path.write_text(line(record(1)) + json.dumps(record(2)), encoding="utf-8")
    loaded = load(path, stats)
    assert len(loaded) == 2
    # Seul le saut de ligne final est ajouté : rien n'est retiré ni réécrit.
    assert path.read_text(encoding="utf-8") == line(record(1)) + line(record(2))
    assert stats.get_value(f"{prefix}/truncated_line_repaired") is None
    assert loaded.finish() is False  # déjà trié, rien à réécrire


@pytest.mark.parametrize("load, prefix, record, foreign", KEYED)
def test_unreadable_middle_line_stops_and_leaves_the_file_untouched(tmp_path, stats, load,
                                                                    prefix, record, foreign):
    path = tmp_path / "export.jsonl"
    original = (line(record(1)) + '{"tronquée": \n' + line(record(2))).encode()
    path.write_bytes(original)
    with pytest.raises(StorageError, match="ligne 2"):
        load(path, stats)
    assert path.read_bytes() == original
    assert stats.get_stats() == {}


@pytest.mark.parametrize("load, prefix, record, foreign", KEYED)
def test_lines_without_a_usable_key_are_kept_as_they_are_at_the_end(tmp_path, stats, load,
                                                                   prefix, record, foreign):
    path = tmp_path / "export.jsonl"
    # Déjà dans l'ordre : c'est la ligne étrangère en tête qui rend la réécriture nécessaire.
    path.write_text(foreign[0] + line(record(1)) + foreign[1] + line(record(2)), encoding="utf-8")
    loaded = load(path, stats)
    assert len(loaded) == 2
    assert stats.get_value(f"{prefix}/foreign_lines") == 2
    assert loaded.finish() is True
    text = path.read_text(encoding="utf-8")
    assert [json.loads(t) for t in text.splitlines()[:2]] == [record(1), record(2)]
    assert text.endswith(foreign[0] + foreign[1])  # telles quelles, espaces compris


@pytest.mark.parametrize("load, wrapped, bare", [
    # Enveloppe {"data": …} d'un ancien export (conv.py), réponse entière de users.py.
    (load_conversations, {"data": conversation("a", 1)}, conversation("a", 1)),
    (load_users, {"error": False, "reason": "resolved", "data": {"email": "a@b.fr"}}, {"email": "a@b.fr"}),
], ids=["conversations", "users"])
def test_envelope_lines_are_normalised_at_the_final_rewrite(tmp_path, stats, load, wrapped, bare):
    path = tmp_path / "export.jsonl"
    path.write_text(line(wrapped), encoding="utf-8")
    loaded = load(path, stats)
    assert loaded.finish() is True
    assert rows(path) == [bare]


# --- Doublons ---------------------------------------------------------------------------------
def test_conversation_duplicates_keep_the_most_recent_version(tmp_path, stats):
    path = tmp_path / "conversations.jsonl"
    path.write_text("".join([
        line(conversation("a", 100)),
        line(conversation("b", 50)),
        line(conversation("a", 90)),  # plus ancienne, plus bas : ignorée
        line(conversation("b", 60)),  # plus récente, plus bas : gardée
        line({"data": conversation("c", 70)}),  # enveloppe d'un ancien export
        line(conversation("c", 40)),
    ]), encoding="utf-8")
    loaded = load_conversations(path, stats)
    assert len(loaded) == 3
    assert stats.get_value("conversations/duplicates_removed") == 3
    assert path.read_text(encoding="utf-8").count("\n") == 6  # le chargement n'écrit rien
    assert loaded.finish() is True
    # Une ligne par session_id, objets nus, activité décroissante.
    assert rows(path) == [conversation("a", 100), conversation("c", 70), conversation("b", 60)]


def test_conversation_duplicate_falls_back_on_updated_at(tmp_path, stats):
    path = tmp_path / "conversations.jsonl"
    newer = {"session_id": "a", "updated_at": 200}
    path.write_text(line(newer) + line({"session_id": "a", "updated_at": 100}), encoding="utf-8")
    loaded = load_conversations(path, stats)
    loaded.finish()
    assert rows(path) == [newer]


def test_profile_duplicates_ignore_case_and_the_lowest_line_wins(tmp_path, stats):
    path = tmp_path / "utilisateurs.jsonl"
    latest = {"email": "anne@exemple.fr", "nom": "récente"}
    path.write_text("".join([
        line({"email": "Anne@Exemple.FR", "nom": "ancienne"}),
        line({"email": "bob@exemple.fr", "nom": "Bob"}),
        # Réponse entière écrite par users.py : comprise, normalisée en objet « data ».
        line({"error": False, "reason": "resolved", "data": latest}),
    ]), encoding="utf-8")
    loaded = load_users(path, stats)
    assert len(loaded) == 2
    assert stats.get_value("users/duplicates_removed") == 1
    assert loaded.finish() is True
    assert rows(path) == [latest, {"email": "bob@exemple.fr", "nom": "Bob"}]


# --- Liste des systèmes « en avant » (Ninja, Wanzo) ------------------------------------------
@pytest.fixture
def catalog(tmp_path, stats):
    """Ouvre la liste Ninja de ``tmp_path`` ; le verrou est rendu à la fin du test."""
    opened = []

    def open_catalog() -> CatalogStore:
        store = CatalogStore(tmp_path, stats, NINJA.model)
        store.open(reset=False)
        opened.append(store)
        return store

    yield open_catalog
    for store in opened:
        store.close()
        assert not store.dir_lock.held  # verrou rendu à la fermeture


def test_catalog_keeps_unreadable_and_keyless_lines_aside_at_the_end(tmp_path, stats, catalog):
    path = tmp_path / "ninja" / "conversations.jsonl"
    path.parent.mkdir()
    aside = ['pas du json\n', '{"titre":  "sans identifiant"}\n', '{"uuid": "c", "ti']
    original = (line({"uuid": "a"}) + aside[0] + aside[1] + line({"uuid": "b"}) + aside[2])
    path.write_text(original, encoding="utf-8")
    store = catalog()
    # Ni refus ni réparation : le fichier n'est pas touché à l'ouverture.
    assert list(store.entries) == ["a", "b"]
    assert path.read_text(encoding="utf-8") == original
    assert stats.get_value("listing/kept_aside") == 3
    store.write()
    # Les lignes mises de côté sont réécrites telles quelles (saut de ligne ajouté), à la fin.
    text = path.read_text(encoding="utf-8")
    assert [json.loads(t) for t in text.splitlines()[:2]] == [{"uuid": "a"}, {"uuid": "b"}]
    assert text.endswith("\n" + "".join(aside) + "\n")


def test_catalog_duplicate_id_keeps_the_last_object_read(tmp_path, stats, catalog):
    path = tmp_path / "ninja" / "conversations.jsonl"
    path.parent.mkdir()
    path.write_text(line({"uuid": "a", "v": 1}) + line({"uuid": "b"}) + line({"uuid": "a", "v": 2}),
                    encoding="utf-8")
    store = catalog()
    assert store.entries == {"a": {"uuid": "a", "v": 2}, "b": {"uuid": "b"}}
    assert stats.get_value("listing/kept_aside") is None
    store.write()
    assert sorted(rows(path), key=lambda r: r["uuid"]) == [{"uuid": "a", "v": 2}, {"uuid": "b"}]
