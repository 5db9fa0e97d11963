"""Les règles du direct sans entrée-sortie (crispscrape/paging/live.py) et l'état du journal
qu'elles lisent (storage/journal.py : conversations à relire)."""

from __future__ import annotations

import json

import pytest

from crispscrape.paging.live import (
    CONVERSATION, CONVERSATION_GONE, EDIT, GAP_MARGIN_SECONDS, MESSAGE, MESSAGE_GONE, PROFILE,
    PROFILE_GONE, due, edited, gap_lookback_days, meaning, settle_round, startup_gap,
)
from crispscrape.storage.journal import EventJournal

SEND = {"website_id": "w", "session_id": "session_1", "inbox_id": None, "type": "text",
        "from": "user", "origin": "chat", "fingerprint": 42, "timestamp": 1000,
        "user": {"nickname": "A"}, "content": "bonjour"}


def test_a_sent_message_is_written_as_the_event_gives_it_without_inbox_id():
    change = meaning("message:send", SEND)
    assert (change.kind, change.session_id, change.fingerprint) == (MESSAGE, "session_1", 42)
    assert change.message == {k: v for k, v in SEND.items() if k != "inbox_id"}
    assert meaning("message:received", SEND).kind == MESSAGE


@pytest.mark.parametrize("broken", [
    {"fingerprint": "42"}, {"fingerprint": True}, {"timestamp": None}, {"session_id": ""},
    {"session_id": 7},
])
def test_a_message_event_without_a_usable_key_is_unusable(broken):
    assert meaning("message:send", {**SEND, **broken}) is None


def test_edits_removals_and_conversation_changes():
    assert meaning("message:updated", {"session_id": "s", "fingerprint": 1, "content": "x"}) \
        .kind == EDIT
    assert meaning("message:updated", {"session_id": "s", "fingerprint": 1}) is None
    assert meaning("message:removed", {"session_id": "s", "fingerprint": 1}).kind == MESSAGE_GONE
    assert meaning("session:removed", {"session_id": "s"}).kind == CONVERSATION_GONE
    assert meaning("session:set_state", {"session_id": "s", "state": "resolved"}).kind == \
        CONVERSATION
    assert meaning("session:set_state", {}) is None


def test_profile_events_need_a_people_id():
    assert meaning("people:profile:removed", {"people_id": "p"}) .kind == PROFILE_GONE
    assert meaning("people:profile:updated", {"people_id": "p", "email": "a@b.c"}).kind == PROFILE
    assert meaning("people:profile:created", {"email": "a@b.c"}) is None


def test_an_edit_replaces_only_the_content():
    line = {"fingerprint": 1, "content": "avant", "read": "chat"}
    assert edited(line, {"text": "après"}) == {"fingerprint": 1, "content": {"text": "après"},
                                              "read": "chat"}
    assert line["content"] == "avant"


def test_conversations_are_due_once_quiet_for_the_settle_delay():
    unsettled = {"a": {"since": 100.0}, "b": {"since": 130.0}, "c": {}}
    assert due(unsettled, now=130.0, settle_seconds=30.0) == ["a", "c"]
    assert due(unsettled, now=160.0, settle_seconds=30.0) == ["a", "b", "c"]


def test_a_settle_round_needs_a_list_page_taken_after_the_last_event():
    unsettled = {"a": {"since": 100.0}, "b": {"since": 200.0}}
    # « a » vue par un balayage commencé après son dernier événement, « b » non.
    listed_at = {"a": 150.0, "b": 150.0}
    # Balayage récent (il y a 100 s, période 3 600 s) : « a » relue sans page, « b » attend.
    assert settle_round(["a", "b"], unsettled, listed_at, 250.0, 150.0, 3600.0) == ({"a"}, False)
    # La période passée : un balayage d'abord, pour les deux.
    assert settle_round(["a", "b"], unsettled, listed_at, 3750.0, 150.0, 3600.0) \
        == ({"a", "b"}, True)
    # Vue au même instant que son événement : pas « après » ; jamais vue : balayage.
    assert settle_round(["b"], unsettled, {"b": 200.0}, 250.0, 150.0, 3600.0) == (set(), False)
    assert settle_round(["b"], unsettled, {}, 250.0, float("-inf"), 3600.0) == ({"b"}, True)
    # Toutes vues depuis : aucune page, même la période passée.
    assert settle_round(["a"], unsettled, listed_at, 9999.0, 0.0, 60.0) == ({"a"}, False)


def test_the_gap_at_start_runs_from_the_oldest_uncovered_moment():
    # Premier départ : inconnue (la fenêtre d'account).
    assert startup_gap(None, None, 1000.0) is None
    # Arrêt propre : depuis la dernière écriture de l'état.
    assert startup_gap(900.0, {"state": "stopped", "since": 900.0}, 1000.0) == 100.0
    # Tué pendant une coupure de connexion : depuis le début de la coupure.
    assert startup_gap(990.0, {"state": "down", "since": 400.0}, 1000.0) == 600.0
    # Tué en pleine réconciliation d'une coupure : ce qu'elle n'a pas fini de couvrir compte.
    assert startup_gap(990.0, {"state": "connected", "since": 980.0,
                               "uncovered_since": 200.0}, 1000.0) == 800.0
    # Début inconnu (0) : depuis toujours, la fenêtre est alors bornée par celle d'account.
    now = 1_796_000_000.0
    assert gap_lookback_days(startup_gap(now - 10, {"uncovered_since": 0.0}, now), 7.0) == 7.0


def test_the_lookback_window_covers_the_gap_only():
    assert gap_lookback_days(0.0, 7.0) == 0.0  # aucune coupure : aucune revérification
    assert gap_lookback_days(None, 7.0) == 7.0  # coupure de durée inconnue : celle d'account
    assert gap_lookback_days(600.0, 7.0) == pytest.approx((600 + GAP_MARGIN_SECONDS) / 86400)
    assert gap_lookback_days(30 * 86400.0, 7.0) == 7.0


def test_the_journal_keeps_what_remains_to_settle_across_restarts(tmp_path):
    journal = EventJournal(tmp_path / "evenements")
    journal.open()
    seq = journal.append("rtm", "message:send", SEND)
    journal.mark_applied(seq, {"session_1": 1000}, now=50.0)
    journal.mark_applied(journal.append("rtm", "message:send", SEND), {"session_1": 900},
                         now=60.0)
    # Relue depuis 55 : un événement est arrivé après, elle reste à relire.
    journal.settled("session_1", started=55.0, now=70.0)
    reopened = EventJournal(tmp_path / "evenements")
    reopened.open()
    assert reopened.applied == 2
    assert reopened.unsettled == {"session_1": {"since": 60.0, "oldest": 900}}
    assert reopened.saved_at == 60.0
    reopened.settled("session_1", started=61.0, now=80.0)
    state = json.loads((tmp_path / "evenements" / "journal.state.json").read_text())
    assert state["unsettled"] == {} and state["applied"] == 2 and state["saved_at"] == 80.0


def _listing(path, *rows):
    path.write_text("".join(json.dumps({"session_id": sid, "updated_at": at}) + "\n"
                            for sid, at in rows), encoding="utf-8")


def test_settling_rereads_its_targets_and_reconciling_only_what_changed(tmp_path):
    from crispscrape.model import activity_marker
    from crispscrape.paging.cursor import MessagesCursor
    from crispscrape.paging.selection import Policy, choose
    from crispscrape.sources.crisp import CRISP_MODEL

    listing, folder = tmp_path / "conversations.jsonl", tmp_path / "messages"
    folder.mkdir()
    _listing(listing, ("a", 3), ("b", 2), ("c", 1))
    sizes = {"a": 10, "b": 20}
    cursor = MessagesCursor(tmp_path / "messages.state.json")
    cursor.load(reset=False)
    # « a » : réglée et inchangée ; « b » : empreinte changée depuis ; « c » : jamais faite.
    cursor.done.set("a", activity_marker({"session_id": "a", "updated_at": 3}), 10)
    cursor.done.set("b", activity_marker({"session_id": "b", "updated_at": 1}), 20)

    def size_of(path):
        return sizes.get(path.rsplit("/", 1)[-1].removesuffix(".jsonl"))

    quiet = Policy(lookback_days=0.0, now_ms=3)
    assert choose(cursor, listing, quiet, None, folder, CRISP_MODEL, size_of) == ["b", "c"]
    # Déjà en cours : jamais deux fois.
    assert choose(cursor, listing, quiet, None, folder, CRISP_MODEL, size_of) == []
    fresh = MessagesCursor(tmp_path / "messages.state.json")
    fresh.load(reset=False)
    fresh.done.set("a", activity_marker({"session_id": "a", "updated_at": 3}), 10)
    # Réglage : ses cibles, même inchangées, et une cible absente de la liste (nouvelle).
    assert choose(fresh, listing, quiet, {"a", "z"}, folder, CRISP_MODEL, size_of) == ["a", "z"]
    assert fresh.in_flight("a") and fresh.in_flight("z")
    # Supprimée (registre) : jamais relue.
    other = MessagesCursor(tmp_path / "messages.state.json")
    other.load(reset=False)
    gone = Policy(lookback_days=0.0, now_ms=3, removed=frozenset({"c"}))
    assert choose(other, listing, gone, None, folder, CRISP_MODEL, size_of) == ["a", "b"]
