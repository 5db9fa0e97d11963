"""Preuve sous le feu, export des messages : entrées abîmées, chemins piégés, mauvais accès.

Vrais ``scrapy crawl messages`` contre le bac à sable. Pour chaque entrée : un message
clair en français, un code de sortie qui dit l'échec quand c'en est un, aucun fichier
hors du répertoire de données, aucune donnée de l'utilisateur perdue ou modifiée.
(Les lignes malformées simples, les identifiants hostiles dans conversations.jsonl et les
identifiants manquants sont déjà couverts par test_messages.py et test_crisp_layer.py.)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.crawling import run_crawl
from tests.support.fire_support import (
    ASIDE_SUFFIX,
    STATE_NAME,
    Truth,
    inspect_export,
    messages_dir,
    read_state,
    state_path,
    tree_snapshot,
)
from tests.support.interrupting import summary_block
from tests.support.messages_support import (
    assert_matches_truth,
    calls_by_session,
    messages_file,
    write_conversations,
)

ARGS = {"nb": 100}


def api_calls(sandbox) -> int:
    return sandbox.admin("/_admin/stats")["calls"]


def assert_french_error(log: str, *fragments: str) -> None:
    """Une erreur journalisée par crispscrape lui-même (pas une trace Python brute), en
    français, qui contient chaque fragment (chemin en cause, par exemple)."""
    ours = [line for line in log.splitlines()
            if re.search(r"\[(messages|crispscrape[\w.]*)\] ERROR: ", line)]
    assert ours, "aucune erreur expliquée par crispscrape :\n" + log[-3000:]
    text = "\n".join(ours)
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    assert not re.search(r"ERROR: \[Errno \d+\]", text), f"message système brut : {text}"
    assert "Traceback" not in log, "trace Python dans le journal :\n" + log[-3000:]


def only_data_dir(tmp_path: Path, data_dir: Path) -> None:
    """Rien n'a été créé à côté du répertoire de données."""
    assert sorted(p.name for p in tmp_path.iterdir()) == [data_dir.name]


@pytest.fixture
def small(sandbox_factory):
    """Bac à sable de 12 conversations (dont une vide, une de 350 messages)."""
    return sandbox_factory(seed=7, conversations=12)


def export_all(sandbox, data_dir) -> list[str]:
    ids = [c["session_id"] for c in write_conversations(sandbox, data_dir)]
    result = run_crawl("messages", data_dir, sandbox.env(), args=ARGS)
    assert result.returncode == 0, result.log[-3000:]
    return ids


# --- conversations.jsonl ------------------------------------------------------------
def test_garbage_lines_are_reported_by_number_and_the_rest_exported(small, data_dir, tmp_path):
    """Octets non UTF-8, NUL, scalaires et tableaux JSON, session_id d'un mauvais type."""
    good = small.admin("/_admin/truth/conversations")[:3]
    lines = [
        json.dumps(good[0]).encode(),
        b'{"session_id": "caf\xe9"}',            # 2 : octet invalide -> nom refusé
        b"\x00\x00\x00",                         # 3
        b"42", b"null", b"[]",                   # 4, 5, 6
        json.dumps({"session_id": 12}).encode(),  # 7
        json.dumps({"session_id": ["a"]}).encode(),  # 8
        json.dumps({"data": "pas un objet"}).encode(),  # 9
        json.dumps(good[1]).encode(),
        b"\xff\xfe\xfd",                         # 11
        json.dumps(good[2]).encode(),
    ]
    path = data_dir / "conversations" / "conversations.jsonl"
    path.parent.mkdir()
    path.write_bytes(b"\n".join(lines) + b"\n")
    original = path.read_bytes()
    result = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert result.returncode == 0, result.log[-3000:]
    for number in (2, 3, 4, 5, 6, 7, 8, 9, 11):
        assert f"conversations.jsonl, ligne {number} ignorée" in result.log
    assert result.stats["messages/ignored_invalid_lines"] == 8
    assert result.stats["messages/ignored_unsafe_ids"] == 1
    assert "ignorées : 9." in summary_block(result.log)
    ids = [c["session_id"] for c in good]
    assert_matches_truth(small, data_dir, ids)
    assert set(calls_by_session(small)) == set(ids)
    assert path.read_bytes() == original
    only_data_dir(tmp_path, data_dir)


def test_byte_order_mark_and_crlf_from_a_windows_tool(small, data_dir):
    """Un conversations.jsonl réenregistré par un outil Windows (BOM UTF-8, fins de ligne
    CRLF) : toutes les conversations doivent être exportées, y compris la première."""
    good = small.admin("/_admin/truth/conversations")[:3]
    path = data_dir / "conversations" / "conversations.jsonl"
    path.parent.mkdir()
    path.write_bytes(("\ufeff" + "".join(json.dumps(c) + "\r\n" for c in good)).encode("utf-8"))
    result = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats.get("messages/ignored_invalid_lines", 0) == 0, "ligne 1 (BOM) ignorée"
    assert_matches_truth(small, data_dir, [c["session_id"] for c in good])


def test_empty_conversations_file_makes_no_call_and_says_so(small, data_dir, tmp_path):
    path = data_dir / "conversations" / "conversations.jsonl"
    path.parent.mkdir()
    path.write_bytes(b"")
    result = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert result.returncode == 0, result.log[-3000:]
    assert api_calls(small) == 0
    summary = summary_block(result.log)
    assert "Conversations traitées : 0" in summary \
        and "Fin : exécution terminée ; il reste" in summary
    created = {p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file()}
    assert created <= {"conversations/conversations.jsonl",
                       f"conversations/messages/{STATE_NAME}"}, created
    assert path.read_bytes() == b""
    only_data_dir(tmp_path, data_dir)


def test_conversations_path_is_a_directory(small, data_dir, tmp_path):
    path = data_dir / "conversations" / "conversations.jsonl"
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("à garder")
    before = tree_snapshot(data_dir)
    result = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert result.returncode == 1
    assert result.reason == "input_error"
    assert_french_error(result.log, "Fichier des conversations", str(path))
    assert api_calls(small) == 0
    assert tree_snapshot(data_dir) == before
    only_data_dir(tmp_path, data_dir)


def test_duplicate_session_ids_do_not_stall_the_cursor(small, data_dir):
    """Lignes en double (même session_id), export par tranches de 2 : le curseur doit
    avancer jusqu'au bout, chaque conversation exportée une fois, sans doublon.

    Quand la ligne qui suit la tranche est un doublon d'une ligne plus haut, le curseur ne
    doit pas revenir à la première occurrence (sinon il tourne en rond sur le début)."""
    conversations = small.admin("/_admin/truth/conversations")
    a, b, c, d = conversations[:4]
    write_conversations(small, data_dir, [a, b, a, c, b, b, d])
    for _ in range(4):
        result = run_crawl("messages", data_dir, small.env(), args={"nb": 2})
        assert result.returncode == 0, result.log[-3000:]
    assert_matches_truth(small, data_dir, [x["session_id"] for x in (a, b, c, d)])


# --- Répertoire des messages ---------------------------------------------------------
def test_a_directory_where_a_message_file_should_be(small, data_dir, tmp_path):
    """messages/{sid}.jsonl est un répertoire (avec un fichier dedans) : échec clair pour
    cette conversation (code 1), son contenu intact, les autres exportées."""
    conversations = write_conversations(small, data_dir)
    ids = [c["session_id"] for c in conversations]
    blocked = ids[2]
    trap = messages_file(data_dir, blocked)
    trap.mkdir(parents=True)
    (trap / "important.txt").write_text("ne pas perdre")
    result = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert result.returncode == 1, result.log[-3000:]
    assert_french_error(result.log, f"{blocked}.jsonl")
    assert (trap / "important.txt").read_text() == "ne pas perdre"
    assert_matches_truth(small, data_dir, [i for i in ids if i != blocked])
    only_data_dir(tmp_path, data_dir)
    # L'utilisateur range son répertoire ailleurs : la relance exporte la conversation.
    trap.rename(data_dir / "rangé")
    again = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert again.returncode == 0, again.log[-3000:]
    assert_matches_truth(small, data_dir, ids)


def test_a_file_where_the_messages_directory_should_be(small, data_dir, tmp_path):
    """Approche qui marche aussi en root : un fichier ordinaire occupe le chemin du
    répertoire des messages. Refus immédiat, en français, sans appel ni modification."""
    write_conversations(small, data_dir)
    blocker = messages_dir(data_dir)
    blocker.write_text("fichier de l'utilisateur")
    before = tree_snapshot(data_dir)
    result = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert result.returncode == 1
    assert result.reason == "input_error"
    assert_french_error(result.log, str(blocker))
    assert api_calls(small) == 0
    assert tree_snapshot(data_dir) == before
    only_data_dir(tmp_path, data_dir)


@contextmanager
def read_only(directory: Path):
    """Rend un répertoire non inscriptible : chmod hors root ; en root (qui ignore chmod),
    l'attribut immuable de ext4 (chattr +i), sinon le test est sauté en le disant."""
    if os.geteuid() != 0:
        os.chmod(directory, 0o555)
        try:
            yield
        finally:
            os.chmod(directory, 0o755)
        return
    try:
        done = subprocess.run(["chattr", "+i", str(directory)], capture_output=True, text=True)
    except FileNotFoundError:
        done = None
    if done is None or done.returncode != 0:
        pytest.skip("en root sans « chattr +i » : répertoire impossible à protéger en "
                    "écriture (voir test_a_file_where_the_messages_directory_should_be)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)


@pytest.mark.parametrize("where", ["messages", "conversations"])
def test_unwritable_data_directory_fails_clearly_and_changes_nothing(small, data_dir, tmp_path,
                                                                      where):
    """« messages » : un export existant, de nouveaux messages arrivés, répertoire des
    messages non inscriptible. « conversations » : premier export, le répertoire où
    créer « messages » est non inscriptible. Attendu : code 1, erreur française qui nomme
    le répertoire, aucun fichier modifié, et l'export ne continue pas à interroger l'API
    pour des conversations qu'il ne peut pas sauver. Une fois le droit rendu, la relance
    complète l'export."""
    if where == "messages":
        ids = export_all(small, data_dir)
        for session_id in ids[:2]:
            small.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                        json={"count": 3})
        # Ce que l'export des conversations aurait relevé : leur activité a changé.
        write_conversations(small, data_dir)
        locked = messages_dir(data_dir)
    else:
        ids = [c["session_id"] for c in write_conversations(small, data_dir)]
        locked = data_dir / "conversations"
    small.admin("/_admin/stats/reset", method="POST")
    before = tree_snapshot(data_dir)
    with read_only(locked):
        result = run_crawl("messages", data_dir, small.env(), args=ARGS)
        after = tree_snapshot(data_dir)
    assert after == before
    assert result.returncode == 1, result.log[-3000:]
    assert_french_error(result.log, str(locked))
    assert api_calls(small) < len(ids), "l'export a continué sans pouvoir rien sauver"
    again = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert again.returncode == 0, again.log[-3000:]
    assert_matches_truth(small, data_dir, ids)
    only_data_dir(tmp_path, data_dir)


# --- Fichier d'état -------------------------------------------------------------------
@pytest.mark.parametrize("content", [
    b'{"next_index": 3, "incomp',
    b"",
    b"[1, 2]",
    b'{"next_index": "3", "incomplete": []}',
], ids=["truncated", "empty", "not-an-object", "wrong-types"])
def test_corrupt_state_is_refused_untouched_then_reset_works(small, data_dir, tmp_path, content):
    ids = [c["session_id"] for c in write_conversations(small, data_dir)]
    path = state_path(data_dir)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    mtime = path.stat().st_mtime_ns
    refused = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert refused.returncode == 1
    assert refused.reason == "input_error"
    assert_french_error(refused.log, "Fichier d'état des messages", str(path), "reset=1")
    assert path.read_bytes() == content and path.stat().st_mtime_ns == mtime
    assert api_calls(small) == 0
    reset = run_crawl("messages", data_dir, small.env(), args={**ARGS, "reset": 1})
    assert reset.returncode == 0, reset.log[-3000:]
    assert_matches_truth(small, data_dir, ids)
    only_data_dir(tmp_path, data_dir)


def test_reset_after_a_corrupt_state_never_takes_a_partial_file_for_complete(small, data_dir):
    """Un export arrêté par le quota en pleine pagination laisse un fichier partiel, noté
    « incomplete » dans l'état ; l'état est ensuite abîmé. reset=1 ne doit pas faire
    passer ce partiel pour complet : après la relance, tout est là."""
    ids = [c["session_id"] for c in write_conversations(small, data_dir)]
    truth = Truth(small, ids)
    big = max(ids, key=lambda session_id: len(truth.messages[session_id]))
    write_conversations(small, data_dir, [c for c in small.admin("/_admin/truth/conversations")
                                          if c["session_id"] == big])
    small.admin("/_admin/faults", method="POST", json={"quota": 3})
    stopped = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert stopped.returncode == 2 and stopped.reason == "quota", stopped.log[-3000:]
    assert big in read_state(data_dir)["incomplete"]
    assert inspect_export(data_dir, truth).partial == {big}
    small.admin("/_admin/faults", method="POST", json={"quota": 0})
    small.admin("/_admin/quota/reset", method="POST")
    state_path(data_dir).write_text('{"next_index": 0, "incomplete": {"' + big[:10])
    refused = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert refused.returncode == 1 and refused.reason == "input_error"
    reset = run_crawl("messages", data_dir, small.env(), args={**ARGS, "reset": 1})
    assert reset.returncode == 0, reset.log[-3000:]
    again = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert again.returncode == 0, again.log[-3000:]
    assert_matches_truth(small, data_dir, [big])


def test_hostile_ids_in_the_state_file_stay_inside_the_data_directory(small, data_dir, tmp_path):
    """Un état édité à la main avec des identifiants piégés (chemins, NUL, très long) :
    ignorés, aucun fichier créé ailleurs que dans messages/, l'export se fait."""
    ids = [c["session_id"] for c in write_conversations(small, data_dir)]
    hostile = ["../../evasion", "/tmp/evasion-crispscrape", "a/b", "..", ".cache", "x\u0000y",
               "n" * 300]
    path = state_path(data_dir)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"next_index": 0, "next_session_id": "../../evasion",
                                "incomplete": {name: None for name in hostile}}))
    result = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert result.returncode == 0, result.log[-3000:]
    assert_matches_truth(small, data_dir, ids)
    assert set(calls_by_session(small)) == set(ids)
    expected = {f"{session_id}.jsonl" for session_id in ids} | {STATE_NAME}
    assert {p.name for p in messages_dir(data_dir).iterdir()} == expected
    # Pièces jointes : leur index et leur répertoire (un sous-répertoire par conversation
    # exportée) ; l'état du balayage existe ou non selon l'avancement du rattrapage.
    names = sorted(p.name for p in (data_dir / "conversations").iterdir())
    assert [name for name in names if name != "fichiers.jsonl.state.json"] == [
        "conversations.jsonl", "fichiers", "fichiers.jsonl", "messages"]
    assert {p.name for p in (data_dir / "conversations" / "fichiers").iterdir()} <= set(ids)
    assert not Path("/tmp/evasion-crispscrape.jsonl").exists()
    only_data_dir(tmp_path, data_dir)


# --- Fichiers de messages abîmés par un outil tiers -------------------------------------
def _longest(sandbox, data_dir, ids) -> Path:
    return max((messages_file(data_dir, i) for i in ids), key=lambda p: p.stat().st_size)


def test_truncated_last_line_is_set_aside_and_refetched(small, data_dir):
    ids = export_all(small, data_dir)
    path = _longest(small, data_dir, ids)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    broken = lines[-1][:37]
    path.write_text("".join(lines[:-1]) + broken, encoding="utf-8")
    kept = lines[:-1]
    result = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert result.returncode == 0, result.log[-3000:]
    assert f"{path.name}, ligne {len(lines)} illisible" in result.log
    assert "mise(s) de côté" in result.log
    aside = path.with_name(path.name + ASIDE_SUFFIX)
    assert aside.read_text(encoding="utf-8") == broken + "\n"
    assert_matches_truth(small, data_dir, ids)
    # Chaque ligne complète d'origine est toujours là, à l'identique.
    assert set(kept) <= set(path.read_text(encoding="utf-8").splitlines(keepends=True))
    assert result.stats["messages/new"] == 1
    # Une relance de plus ne remet rien de côté une deuxième fois.
    again = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert again.returncode == 0
    assert aside.read_text(encoding="utf-8") == broken + "\n"


def test_garbled_line_in_the_middle_is_set_aside_and_refetched(small, data_dir):
    """Une ligne abîmée au milieu du fichier (pas seulement la dernière) : le message
    correspondant doit être redemandé, pas sauté par la reprise sous le plus ancien."""
    ids = export_all(small, data_dir)
    path = _longest(small, data_dir, ids)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    middle = len(lines) // 2
    lines[middle] = lines[middle][:25] + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    result = run_crawl("messages", data_dir, small.env(), args=ARGS)
    assert result.returncode == 0, result.log[-3000:]
    assert f"{path.name}, ligne {middle + 1} illisible" in result.log
    assert path.with_name(path.name + ASIDE_SUFFIX).read_text(encoding="utf-8") == lines[middle]
    assert_matches_truth(small, data_dir, ids)


# --- Mauvais accès, export existant -----------------------------------------------------
@pytest.mark.parametrize("variable,value,reason,message", [
    ("CRISP_KEY_PROD", "mauvaise-cle", "unauthorized", "Identifiants Crisp refusés (HTTP 401)"),
    ("ID_SITE_CRISP", "00000000-0000-0000-0000-000000000000", "not_subscribed",
     "n'est pas lié à ce jeton Crisp"),
], ids=["wrong-key", "website-not-bound"])
def test_refused_access_leaves_an_existing_export_untouched(small, data_dir, tmp_path,
                                                            variable, value, reason, message):
    export_all(small, data_dir)
    before = tree_snapshot(data_dir)
    small.admin("/_admin/stats/reset", method="POST")
    # verify=1 : sans rien de nouveau, un export ne ferait aucun appel (rien à refuser).
    result = run_crawl("messages", data_dir, {**small.env(), variable: value},
                       args={**ARGS, "verify": 1})
    assert result.returncode == 1
    assert result.reason == reason
    assert_french_error(result.log, message)
    assert api_calls(small) == 1
    assert tree_snapshot(data_dir) == before
    assert value not in result.log or variable == "ID_SITE_CRISP"
    only_data_dir(tmp_path, data_dir)
