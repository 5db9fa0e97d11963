"""Un flux en retard et dans le désordre (issue 22, §7 et §3) : la retenue du bac à sable,
puis le direct qui la subit.

1. La route ``POST /_admin/rtm/hold {"count", "seconds"}`` du bac à sable, vérifiée avec un
   vrai client Socket.IO (outils de test_sandbox_rtm.py) : les N prochains événements partent
   S secondes plus tard, après ceux publiés entre-temps, aux clients connectés à CE moment,
   et les web hooks suivent la même retenue.
2. Un vrai ``scrapy crawl live`` reçoit la modification d'un message AVANT son envoi, et la
   suppression d'un autre AVANT son envoi. Une fois tout réglé, ses fichiers de conversations
   sont ceux d'un export neuf, octet pour octet : aucun doublon, le message supprimé nulle
   part, et le journal a gardé l'ordre d'arrivée.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from aiohttp import web

from tests.e2e.test_live import journal, stop, wait_for
from tests.e2e.test_live_apply import connected as live_connected
from tests.e2e.test_live_apply import differences, exported, fingerprints, lines, tree
from bench.live_process import quiet
from tests.e2e.test_sandbox_rtm import (
    admin, admin_error, assert_nothing_before_sentinel, connected, first_session, run,
)
from tests.support.crawling import start_crawl

SETTINGS = {"CRISP_LIVE_SETTLE_MINUTES": "0.05", "CRISP_LIVE_LIST_MINUTES": "0.05"}
SECONDS_ERROR = "seconds doit être un nombre de secondes (plus de 0, 600 au plus)"


async def fingerprint_of(listener, timeout=1.0):
    event, data = await listener.next(timeout)
    assert event == "message:send", (event, data)
    return data["fingerprint"]


# ----------------------------------------------------------------------------- la route


def test_held_events_arrive_late_after_those_published_meanwhile(sandbox):
    session = first_session(sandbox)
    path = f"/_admin/conversations/{session}/messages"

    async def scenario():
        listener = await connected(sandbox, ["message:send"])
        assert await admin(sandbox, "/_admin/rtm") == {"clients": 1, "events_sent": 0, "auth_failures": 0}
        assert await admin(sandbox, "/_admin/rtm/hold", {"count": 1, "seconds": 1.0}) == {
            "hold_left": 1, "seconds": 1.0, "held": 0}
        # Un événement sans destinataire (personne n'écoute message:updated) n'entame rien.
        first = (await admin(sandbox, f"/_admin/truth/messages/{session}"))[0]
        await admin(sandbox, f"{path}/{first['fingerprint']}/edit", {"content": "x"})
        assert (await admin(sandbox, "/_admin/rtm"))["hold_left"] == 1

        published = time.monotonic()
        added = await admin(sandbox, path, {"count": 3})
        state = await admin(sandbox, "/_admin/rtm")
        assert (state["hold_left"], state["held"], state["released"], state["events_sent"]) == (0, 1, 0, 2)
        # Les deux suivants d'abord, puis le retenu, une seconde après sa publication.
        assert [await fingerprint_of(listener) for _ in range(2)] == [m["fingerprint"] for m in added[1:]]
        assert await fingerprint_of(listener, timeout=3) == added[0]["fingerprint"]
        assert time.monotonic() - published >= 0.9
        state = await admin(sandbox, "/_admin/rtm")
        assert (state["hold_left"], state["held"], state["released"], state["events_sent"]) == (0, 0, 1, 3)
        await assert_nothing_before_sentinel(sandbox, [listener])

        # Deux retenus partent dans leur ordre de publication ; un événement émis
        # entre-temps (ici le témoin) passe avant eux.
        assert (await admin(sandbox, "/_admin/rtm/hold", {"count": 2, "seconds": 1.0}))["hold_left"] == 2
        added = await admin(sandbox, path, {"count": 2})
        assert await admin(sandbox, "/_admin/rtm/emit", {"event": "test:temoin", "data": {}}) == {"sent": 1}
        assert await listener.next() == ("test:temoin", {})
        assert [await fingerprint_of(listener, timeout=3) for _ in range(2)] == [
            m["fingerprint"] for m in added]

        # 0 annule ce qui restait à retenir, sans « seconds ».
        await admin(sandbox, "/_admin/rtm/hold", {"count": 5, "seconds": 2})
        assert await admin(sandbox, "/_admin/rtm/hold", {"count": 0}) == {
            "hold_left": 0, "seconds": 0.0, "held": 0}
        [now] = await admin(sandbox, path, {"count": 1})
        assert await fingerprint_of(listener) == now["fingerprint"]

    run(scenario())


def test_held_events_go_to_the_clients_connected_when_they_leave(sandbox):
    session = first_session(sandbox)

    async def scenario():
        early = await connected(sandbox, ["message:send"])
        await admin(sandbox, "/_admin/rtm/hold", {"count": 1, "seconds": 1.0})
        [held] = await admin(sandbox, f"/_admin/conversations/{session}/messages", {"count": 1})
        await early.close()  # parti avant le départ de l'événement
        late = await connected(sandbox, ["message:send"])  # arrivé pendant la retenue
        assert await fingerprint_of(late, timeout=3) == held["fingerprint"]
        assert early.received.empty()
        state = await admin(sandbox, "/_admin/rtm")
        assert (state["clients"], state["events_sent"], state["released"]) == (1, 1, 1)

        # Retenu, puis perdu à son départ : les pertes prévues s'appliquent à ce moment-là.
        await admin(sandbox, "/_admin/rtm/hold", {"count": 1, "seconds": 0.5})
        await admin(sandbox, f"/_admin/conversations/{session}/messages", {"count": 1})
        assert await admin(sandbox, "/_admin/rtm/drop", {"count": 1}) == {"drop_left": 1}
        await asyncio.sleep(1.0)
        state = await admin(sandbox, "/_admin/rtm")
        assert (state["held"], state["released"], state["events_sent"]) == (0, 2, 1)
        await assert_nothing_before_sentinel(sandbox, [late])

    run(scenario())


def test_web_hooks_follow_the_hold(sandbox):
    session = first_session(sandbox)
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(json.loads(await request.read()))
        return web.json_response({})

    async def scenario():
        app = web.Application()
        app.router.add_post("/hooks", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            await admin(sandbox, "/_admin/hooks", {"url": f"http://127.0.0.1:{port}/hooks"})
            # Aucun client temps réel : la cible des hooks suffit à entamer la retenue.
            await admin(sandbox, "/_admin/rtm/hold", {"count": 1, "seconds": 1.0})
            added = await admin(sandbox, f"/_admin/conversations/{session}/messages", {"count": 2})
            assert [h["data"]["fingerprint"] for h in received] == [added[1]["fingerprint"]]
            await asyncio.sleep(1.5)
            assert [h["data"]["fingerprint"] for h in received] == [
                added[1]["fingerprint"], added[0]["fingerprint"]]
            assert {h["event"] for h in received} == {"message:send"}
            assert (await admin(sandbox, "/_admin/hooks"))["sent"] == 2
            state = await admin(sandbox, "/_admin/rtm")
            assert (state["held"], state["released"], state["events_sent"]) == (0, 1, 0)
        finally:
            await runner.cleanup()

    run(scenario())


def test_hold_rejects_bad_bodies(sandbox):
    async def scenario():
        for bad in ({"count": -1, "seconds": 1}, {"count": "2", "seconds": 1}, {"seconds": 1}):
            assert await admin_error(sandbox, "/_admin/rtm/hold", bad) == (
                400, {"error": "count doit être un entier positif ou nul"})
        for bad in ({"count": 1}, {"count": 1, "seconds": 0}, {"count": 1, "seconds": -1},
                    {"count": 1, "seconds": "1"}, {"count": 1, "seconds": True},
                    {"count": 1, "seconds": 601}):
            assert await admin_error(sandbox, "/_admin/rtm/hold", bad) == (
                400, {"error": SECONDS_ERROR}), bad
        # Rien de refusé n'a compté comme une retenue demandée.
        assert await admin(sandbox, "/_admin/rtm") == {"clients": 0, "events_sent": 0, "auth_failures": 0}

    run(scenario())


# ----------------------------------------------------------------------------- le direct


def all_messages(data_dir: Path) -> dict[str, list[dict]]:
    folder = data_dir / "conversations" / "messages"
    return {path.name: lines(path) for path in sorted(folder.glob("*.jsonl"))}


def settled_and_still(sandbox, data_dir: Path, events: int, still: float = 2.0) -> None:
    """Tous les événements appliqués, plus rien à relire, plus d'appel, fichiers immobiles."""
    state = data_dir / "evenements" / "journal.state.json"

    def done() -> bool:
        if not state.is_file():
            return False
        current = json.loads(state.read_text())
        return current.get("applied", 0) >= events and current.get("unsettled") == {}

    wait_for(done, 60, "événements appliqués et conversations réglées")
    quiet(sandbox)
    deadline = time.monotonic() + 60
    last, since = tree(data_dir), time.monotonic()
    while time.monotonic() - since < still:
        assert time.monotonic() < deadline, "les fichiers changent encore"
        time.sleep(0.2)
        now = tree(data_dir)
        if now != last:
            last, since = now, time.monotonic()
    assert json.loads(state.read_text())["unsettled"] == {}


def test_edit_and_delete_received_before_their_send_end_identical_to_a_fresh_export(
        sandbox, tmp_path):
    data_dir = exported(sandbox, tmp_path, "data")
    truth = sandbox.admin("/_admin/truth/conversations")
    session_a, session_b = truth[3]["session_id"], truth[8]["session_id"]
    stats_file = tmp_path / "live-stats.json"
    process = start_crawl("live", data_dir, sandbox.env(), settings=SETTINGS,
                          stats_file=stats_file)
    try:
        live_connected(sandbox)
        quiet(sandbox)  # réconciliation du départ finie

        # A : l'envoi retenu 1,5 s, sa modification part tout de suite.
        sandbox.admin("/_admin/rtm/hold", method="POST", json={"count": 1, "seconds": 1.5})
        [sent_a] = sandbox.admin(f"/_admin/conversations/{session_a}/messages", method="POST",
                                 json={"count": 1})
        fp_a = sent_a["fingerprint"]
        sandbox.admin(f"/_admin/conversations/{session_a}/messages/{fp_a}/edit", method="POST",
                      json={"content": "modifié avant d'être reçu"})
        # B : l'envoi retenu 1,5 s, sa suppression part tout de suite.
        sandbox.admin("/_admin/rtm/hold", method="POST", json={"count": 1, "seconds": 1.5})
        [sent_b] = sandbox.admin(f"/_admin/conversations/{session_b}/messages", method="POST",
                                 json={"count": 1})
        fp_b = sent_b["fingerprint"]
        sandbox.admin(f"/_admin/conversations/{session_b}/messages/{fp_b}/delete", method="POST")
        # Le bac à sable a bien envoyé dans le désordre : les deux envois sont partis en dernier.
        wait_for(lambda: sandbox.admin("/_admin/rtm")["released"] == 2, 10, "envois retenus partis")
        assert sandbox.admin("/_admin/rtm")["events_sent"] == 4
        wait_for(lambda: len([r for r in journal(data_dir)
                              if r["data"]["session_id"] == session_a]) >= 2, 10,
                 "événements de A journalisés")
        try:
            settled_and_still(sandbox, data_dir, events=4)
        except AssertionError:
            pass  # dit plus bas, avec les fichiers qui diffèrent et la sortie du direct
    finally:
        out, stats = stop(process, stats_file)
    fresh = exported(sandbox, tmp_path, "fresh")

    # Le journal garde l'ordre d'arrivée, pas celui de publication ; les événements du
    # message supprimé chez Crisp (2 et 4) en sont effacés, comme de tout fichier : il est
    # noté au registre même reçu avant son envoi.
    records = journal(data_dir)
    assert [(r["seq"], r["event"], r["data"]["session_id"], r["data"]["fingerprint"])
            for r in records] == [
        (1, "message:updated", session_a, fp_a),
        (3, "message:send", session_a, fp_a),
    ], records
    registry = lines(data_dir / "suppressions.jsonl")
    assert [(r["kind"], r["id"]) for r in registry] == [("message", f"{session_b}:{fp_b}")]

    messages = all_messages(data_dir)
    duplicated = {name: sorted({m["fingerprint"] for m in found
                                if [x["fingerprint"] for x in found].count(m["fingerprint"]) > 1})
                  for name, found in messages.items()}
    assert {name: fps for name, fps in duplicated.items() if fps} == {}
    conversations = [c["session_id"] for c in lines(data_dir / "conversations" / "conversations.jsonl")]
    assert len(conversations) == len(set(conversations))
    assert [name for name, found in messages.items()
            if any(m["fingerprint"] == fp_b for m in found)] == []
    edited = [m for m in lines(data_dir / "conversations" / "messages" / f"{session_a}.jsonl")
              if m["fingerprint"] == fp_a]
    assert [m["content"] for m in edited] == ["modifié avant d'être reçu"], edited
    assert fp_b not in fingerprints(data_dir, session_b)

    assert tree(data_dir) == tree(fresh), (differences(data_dir, fresh), out[-6000:])
    assert process.returncode == 0, out[-3000:]
    assert stats["finish_reason"] == "live_stopped"
    assert stats["live/events"] == 4
