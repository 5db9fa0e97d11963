"""Un ``message:removed`` que le direct ne reçoit jamais (issue 22, banc de la mauvaise journée).

Trouvé par ``python -m bench.live_badday`` : un message supprimé chez Crisp dont l'événement
est perdu par le flux, ou envoyé pendant que le direct est arrêté, restait dans le fichier
pour toujours (une relecture ne faisait qu'ajouter ou remplacer des lignes). Maintenant :

- toute relecture du direct vaut preuve pour la partie qu'elle relit : un message du fichier
  daté entre le plus ancien et le plus récent relus, qu'elle ne revoit pas, est supprimé ;
- après une coupure, chaque relecture de la réconciliation descend jusqu'au début de la
  coupure (marge comprise), pour voir ce qui a été supprimé ou modifié pendant.
"""

from __future__ import annotations

import json
import time

from bench.live_process import quiet
from tests.e2e.test_live import stop, wait_for
from tests.e2e.test_live_apply import exported, fingerprints, lines, messages_file, start_live

MINUTE_MS = 60_000


def settled(sandbox, data_dir) -> None:
    state = data_dir / "evenements" / "journal.state.json"
    wait_for(lambda: state.is_file() and json.loads(state.read_text())["unsettled"] == {}, 30,
             "conversations réglées")
    quiet(sandbox)


def add(sandbox, session_id: str, **options) -> dict:
    [message] = sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                              json={"count": 1, **options})
    return message


def delete(sandbox, session_id: str, fingerprint: int) -> None:
    sandbox.admin(f"/_admin/conversations/{session_id}/messages/{fingerprint}/delete",
                  method="POST")


def test_a_lost_removal_is_seen_by_the_next_reread_of_its_conversation(sandbox, tmp_path):
    data_dir = exported(sandbox, tmp_path, "data")
    session_id = sandbox.admin("/_admin/truth/conversations")[4]["session_id"]
    process, stats_file = start_live(sandbox, data_dir, tmp_path)
    try:
        quiet(sandbox)
        doomed = add(sandbox, session_id)
        add(sandbox, session_id)
        settled(sandbox, data_dir)
        assert doomed["fingerprint"] in fingerprints(data_dir, session_id)
        # Son message:removed perdu par le flux ; un message suivant fait relire la conversation.
        sandbox.admin("/_admin/rtm/drop", method="POST", json={"count": 1})
        delete(sandbox, session_id, doomed["fingerprint"])
        later = add(sandbox, session_id)
        wait_for(lambda: later["fingerprint"] in fingerprints(data_dir, session_id), 5,
                 "message suivant écrit")
        wait_for(lambda: doomed["fingerprint"] not in fingerprints(data_dir, session_id), 30,
                 "message supprimé retiré par la relecture")
        settled(sandbox, data_dir)
    finally:
        out, stats = stop(process, stats_file)
    assert process.returncode == 0, out[-3000:]
    truth = {m["fingerprint"] for m in sandbox.admin(f"/_admin/truth/messages/{session_id}")}
    assert set(fingerprints(data_dir, session_id)) == truth
    assert stats.get("live/events/message:removed", 0) == 0  # jamais reçu : trouvé par la relecture
    registry = (data_dir / "suppressions.jsonl").read_text()
    assert str(doomed["fingerprint"]) in registry


def test_what_changed_while_live_was_stopped_is_found_by_the_reconciliation(sandbox,
                                                                          tmp_path):
    session_id = sandbox.admin("/_admin/truth/conversations")[6]["session_id"]
    now_ms = int(time.time() * 1000)
    # Activité réelle récente (l'horloge du bac à sable est en 2025) : 3 et 2 minutes avant.
    doomed = add(sandbox, session_id, timestamp=now_ms - 3 * MINUTE_MS)
    edited = add(sandbox, session_id, timestamp=now_ms - 2 * MINUTE_MS)
    add(sandbox, session_id, timestamp=now_ms - 1 * MINUTE_MS)
    data_dir = exported(sandbox, tmp_path, "data")
    process, stats_file = start_live(sandbox, data_dir, tmp_path)
    try:
        quiet(sandbox)
    finally:
        stop(process, stats_file)
    # Direct arrêté : une suppression et une modification qu'aucun événement n'apportera.
    delete(sandbox, session_id, doomed["fingerprint"])
    sandbox.admin(f"/_admin/conversations/{session_id}/messages/{edited['fingerprint']}/edit",
                  method="POST", json={"content": "modifié pendant l'arrêt"})
    process, stats_file = start_live(sandbox, data_dir, tmp_path)
    try:
        wait_for(lambda: doomed["fingerprint"] not in fingerprints(data_dir, session_id), 30,
                 "suppression de la coupure retrouvée")
        quiet(sandbox)
    finally:
        out, stats = stop(process, stats_file)
    assert process.returncode == 0, out[-3000:]
    contents = {m["fingerprint"]: m["content"] for m in lines(messages_file(data_dir, session_id))}
    assert contents[edited["fingerprint"]] == "modifié pendant l'arrêt"
    truth = {m["fingerprint"] for m in sandbox.admin(f"/_admin/truth/messages/{session_id}")}
    assert set(contents) == truth


def test_a_removal_made_during_a_short_disconnection_is_found(sandbox, tmp_path):
    session_id = sandbox.admin("/_admin/truth/conversations")[7]["session_id"]
    data_dir = exported(sandbox, tmp_path, "data")
    process, stats_file = start_live(sandbox, data_dir, tmp_path)
    try:
        quiet(sandbox)
        now_ms = int(time.time() * 1000)
        doomed = add(sandbox, session_id, timestamp=now_ms - 2000)
        add(sandbox, session_id, timestamp=now_ms - 1000)
        settled(sandbox, data_dir)
        assert doomed["fingerprint"] in fingerprints(data_dir, session_id)
        # Coupée : la suppression part pendant que personne n'écoute.
        sandbox.admin("/_admin/rtm/disconnect", method="POST")
        delete(sandbox, session_id, doomed["fingerprint"])
        wait_for(lambda: doomed["fingerprint"] not in fingerprints(data_dir, session_id), 30,
                 "suppression faite pendant la coupure retrouvée")
    finally:
        out, stats = stop(process, stats_file)
    assert process.returncode == 0, out[-3000:]
    assert stats.get("live/events/message:removed", 0) == 0
