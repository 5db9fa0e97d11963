"""Une relecture REST lente ne retient que les événements de SA conversation (issue 22).

Au premier départ, la réconciliation relit des milliers de conversations : si un événement
d'une conversation en cours de relecture arrêtait tout le flux, plus rien n'arriverait sur
disque dans la seconde. Contre le bac à sable (latence de 4 s sur chaque appel) : pendant
la relecture de A, un message de B est écrit tout de suite ; celui de A attend la fin de
la relecture, puis est écrit ; les fichiers finissent identiques à un export neuf.
"""

from __future__ import annotations

import time

from bench.live_process import quiet
from tests.e2e.test_live import stop, wait_for
from tests.e2e.test_live_apply import exported, fingerprints, start_live, tree

LATENCY_MS = 4000


def test_only_the_conversation_being_reread_waits(sandbox, tmp_path):
    data_dir = exported(sandbox, tmp_path, "data")
    truth = sandbox.admin("/_admin/truth/conversations")
    slow, other = truth[2]["session_id"], truth[5]["session_id"]
    process, stats_file = start_live(sandbox, data_dir, tmp_path)
    try:
        quiet(sandbox)  # réconciliation du départ finie
        sandbox.admin("/_admin/faults", method="POST", json={"latency_ms": LATENCY_MS})
        sandbox.admin("/_admin/stats/reset", method="POST")
        sandbox.admin(f"/_admin/conversations/{slow}/messages", method="POST",
                      json={"count": 1})
        # Calme, puis relue : l'appel de ses messages est arrivé, sa réponse tarde 4 s.
        wait_for(lambda: sandbox.admin("/_admin/stats")["calls_by_session"].get(slow), 30,
                 "relecture de la conversation lente commencée")
        [held] = sandbox.admin(f"/_admin/conversations/{slow}/messages", method="POST",
                               json={"count": 1})
        sent = time.monotonic()
        [passing] = sandbox.admin(f"/_admin/conversations/{other}/messages", method="POST",
                                  json={"count": 1})
        wait_for(lambda: passing["fingerprint"] in fingerprints(data_dir, other), 2,
                 "message de l'autre conversation écrit pendant la relecture")
        passed_after = time.monotonic() - sent
        # Celui de la conversation relue attend la fin de sa relecture, puis est écrit.
        assert held["fingerprint"] not in fingerprints(data_dir, slow)
        wait_for(lambda: held["fingerprint"] in fingerprints(data_dir, slow), 30,
                 "message mis de côté écrit après la relecture")
        sandbox.admin("/_admin/faults", method="POST", json={"latency_ms": 0})
        fresh = exported(sandbox, tmp_path, "fresh")
        wait_for(lambda: tree(data_dir) == tree(fresh), 60, "fichiers réglés")
    finally:
        out, stats = stop(process, stats_file)
    assert process.returncode == 0, out[-3000:]
    assert passed_after < 2.0
    assert stats["live/parked"] >= 1
    # Tout est noté appliqué à la fin : rien ne sera rejoué pour rien.
    assert stats["live/applied_seq"] == stats["live/events"]
