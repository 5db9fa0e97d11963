"""Temps réel du bac à sable (API RTM de Crisp), vérifié en vrai : un bac à sable en
sous-processus, un vrai client Socket.IO (socketio.AsyncClient, transport WebSocket) sur
127.0.0.1, les mutations faites par /_admin.

Pour prouver qu'un événement n'arrive PAS sans attendre au hasard, on se sert d'un témoin :
/_admin/rtm/emit envoie un événement inconnu à tous les clients authentifiés d'un site, et
le serveur émet dans l'ordre ; si le témoin arrive le premier, rien n'est passé avant lui.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
from urllib.parse import urlsplit

import pytest
import socketio

from tests.support.sandbox_process import start_sandbox

OTHER = {"plugin": "website", "website": "plugin"}
# Champs de message:send (contrat de l'issue : types du client Node de Crisp).
MESSAGE_SEND_FIELDS = {"website_id", "session_id", "inbox_id", "type", "from", "origin", "fingerprint",
                       "timestamp", "user", "content", "mentions", "stamped", "automated"}
REST_ONLY_FIELDS = {"read", "delivered", "edited", "translated", "preview", "references", "original",
                    "properties"}
ALL_EVENTS = ["message:send", "message:updated", "message:removed", "session:removed",
              "session:set_state", "people:profile:removed"]
SENTINEL = "test:temoin"
# Délai d'arrivée d'un événement attendu (contrat : moins d'une seconde).
WITHIN = 1.0


@pytest.fixture
def sandbox():
    with start_sandbox(seed=4, conversations=20) as running:
        yield running


# Clients ouverts par le test en cours, fermés à sa fin, même en échec (run).
OPEN: list[Listener] = []


def run(coroutine):
    """Corps asynchrone d'un test, borné dans le temps ; ferme ensuite tous ses clients."""
    async def guarded():
        try:
            return await asyncio.wait_for(coroutine, 60)
        finally:
            while OPEN:
                await OPEN.pop().close()

    return asyncio.run(guarded())


async def admin(sandbox, path, payload=None):
    """Appel d'administration hors de la boucle (urllib bloque) ; POST si ``payload``."""
    method = "GET" if payload is None else "POST"
    return await asyncio.to_thread(sandbox.admin, path, method, payload)


async def admin_error(sandbox, path, payload):
    """POST d'administration qui doit échouer : (statut, corps JSON)."""
    with pytest.raises(urllib.error.HTTPError) as raised:
        await admin(sandbox, path, payload)
    with raised.value as error:
        return error.code, json.loads(error.read().decode("utf-8"))


def endpoints(sandbox, tier=None):
    """GET /v1/{tier}/connect/endpoints avec les bons identifiants : (statut, enveloppe)."""
    status, _, body = sandbox.api(f"/{tier or sandbox.tier}/connect/endpoints")
    return status, json.loads(body)


class Listener:
    """Client Socket.IO qui s'authentifie à chaque connexion (comme le client Crisp) et range
    dans une file chaque événement reçu."""

    def __init__(self, sandbox, events, rooms=None, *, tier=None, password=None, reconnection=False,
                 authenticate=True):
        self.authenticate = authenticate
        self.client = socketio.AsyncClient(reconnection=reconnection, reconnection_delay=0.1,
                                           reconnection_delay_max=0.2, randomization_factor=0)
        self.auth = {"tier": tier or sandbox.tier, "username": sandbox.identifier,
                     "password": sandbox.key if password is None else password,
                     "events": list(events), "rooms": list(rooms or [sandbox.website_id])}
        self.address = endpoints(sandbox)[1]["data"]["socket"]["app"]
        self.received: asyncio.Queue = asyncio.Queue()
        self.disconnects: asyncio.Queue = asyncio.Queue()
        self.client.on("connect", self._on_connect)
        self.client.on("disconnect", self._on_disconnect)
        self.client.on("*", self._on_event)
        OPEN.append(self)

    async def _on_connect(self):
        if self.authenticate:
            await self.client.emit("authentication", self.auth)

    async def _on_disconnect(self, reason=None):
        await self.disconnects.put(reason)

    async def _on_event(self, event, data=None):
        await self.received.put((event, data))

    async def connect(self):
        """Se connecte à l'origine de l'URL annoncée, chemin Socket.IO = son chemin."""
        url = urlsplit(self.address)
        await self.client.connect(f"{url.scheme}://{url.netloc}", socketio_path=url.path,
                                  transports=["websocket"], wait_timeout=5)

    async def open(self):
        """Se connecte ; renvoie la réponse à l'authentification (événement, contenu)."""
        await self.connect()
        return await self.next()

    async def next(self, timeout=WITHIN):
        return await asyncio.wait_for(self.received.get(), timeout)

    async def close(self):
        await self.client.shutdown()


async def assert_nothing_before_sentinel(sandbox, listeners, website=None):
    """Rien n'est arrivé à ces clients avant le témoin émis maintenant au site (le serveur
    émet dans l'ordre). ``listeners`` : TOUS les clients authentifiés de ce site."""
    payload = {"event": SENTINEL, "data": {"n": 1}, "website": website or sandbox.website_id}
    assert await admin(sandbox, "/_admin/rtm/emit", payload) == {"sent": len(listeners)}
    for listener in listeners:
        assert await listener.next() == (SENTINEL, {"n": 1})


async def connected(sandbox, events, rooms=None, **options):
    listener = Listener(sandbox, events, rooms, **options)
    assert await listener.open() == ("authenticated", {})
    return listener


def first_session(sandbox, website=None):
    query = f"?website={website}" if website else ""
    counts = sandbox.admin("/_admin/truth/counts" + query)
    return next(session for session, count in counts.items() if count > 2)


# ----------------------------------------------------------------------------- adresse


@pytest.mark.parametrize("tier", ["plugin", "website"])
def test_endpoints_route_follows_the_tier(tier):
    with start_sandbox(seed=2, conversations=4, tier=tier) as sandbox:
        before = sandbox.admin("/_admin/stats")["by_kind"]["other"]
        assert endpoints(sandbox) == (200, {"error": False, "reason": "resolved",
                                            "data": {"socket": {"app": f"{sandbox.base}/rtm/app/"}}})
        # La route de l'autre niveau : le refus d'un jeton de l'autre niveau.
        status, body = endpoints(sandbox, OTHER[tier])
        assert (status, body["error"], body["reason"]) == (401, True, "unauthorized")
        assert body["data"]["namespace"] == "authentication"
        # De mauvais identifiants : 401 aussi.
        headers = {**sandbox.auth_headers(), "Authorization": "Basic eDp5"}
        assert sandbox.api(f"/{tier}/connect/endpoints", headers=headers)[0] == 401
        assert sandbox.admin("/_admin/stats")["by_kind"]["other"] == before + 3

        async def scenario():
            good = await connected(sandbox, ["message:send"])
            wrong = Listener(sandbox, ["message:send"], tier=OTHER[tier])
            event, message = await wrong.open()
            assert event == "unauthorized" and isinstance(message, str) and message
            await asyncio.wait_for(wrong.disconnects.get(), WITHIN)
            assert not wrong.client.connected and good.client.connected
            assert await admin(sandbox, "/_admin/rtm") == {"clients": 1, "events_sent": 0, "auth_failures": 1}

        run(scenario())


# ----------------------------------------------------------------------------- événements


def test_message_send_carries_exactly_the_event_fields(sandbox):
    session = first_session(sandbox)

    async def scenario():
        listener = await connected(sandbox, ["message:send"])
        added = await admin(sandbox, f"/_admin/conversations/{session}/messages", {"count": 2})
        assert len(added) == 2
        for message in added:
            event, data = await listener.next()
            assert event == "message:send"
            assert set(data) == MESSAGE_SEND_FIELDS
            assert not set(data) & REST_ONLY_FIELDS
            assert data == {**{name: message[name] for name in MESSAGE_SEND_FIELDS - {"inbox_id"}},
                            "inbox_id": None}
            assert data["website_id"] == sandbox.website_id and data["session_id"] == session
        truth = await admin(sandbox, f"/_admin/truth/messages/{session}")
        assert [m["fingerprint"] for m in truth[-2:]] == [m["fingerprint"] for m in added]
        assert (await admin(sandbox, "/_admin/rtm"))["events_sent"] == 2

    run(scenario())


def test_mutations_send_their_events(sandbox):
    website = sandbox.website_id
    session = first_session(sandbox)
    messages = sandbox.admin(f"/_admin/truth/messages/{session}")
    edited, removed = messages[0], messages[1]
    conversation = next(c for c in sandbox.admin("/_admin/truth/conversations") if c["session_id"] != session)
    profile = sandbox.admin("/_admin/truth/profiles")[0]

    async def scenario():
        listener = await connected(sandbox, ALL_EVENTS)
        base = f"/_admin/conversations/{session}/messages"
        await admin(sandbox, f"{base}/{edited['fingerprint']}/edit", {"content": "Modifié ✏️"})
        assert await listener.next() == ("message:updated", {
            "website_id": website, "session_id": session, "fingerprint": edited["fingerprint"],
            "content": "Modifié ✏️"})
        await admin(sandbox, f"{base}/{removed['fingerprint']}/delete", {})
        assert await listener.next() == ("message:removed", {
            "website_id": website, "session_id": session, "fingerprint": removed["fingerprint"]})
        await admin(sandbox, f"/_admin/conversations/{conversation['session_id']}/delete", {})
        assert await listener.next() == ("session:removed", {
            "website_id": website, "session_id": conversation["session_id"]})
        await admin(sandbox, f"/_admin/profiles/{profile['people_id']}/delete", {})
        assert await listener.next() == ("people:profile:removed", {
            "website_id": website, "people_id": profile["people_id"]})
        created = await admin(sandbox, "/_admin/conversations", {"count": 2})
        for new in created:
            assert await listener.next() == ("session:set_state", {
                "website_id": website, "session_id": new["session_id"], "state": new["state"]})
        # Une mutation refusée (404) n'annonce rien.
        await admin_error(sandbox, f"{base}/{removed['fingerprint']}/delete", {})
        await assert_nothing_before_sentinel(sandbox, [listener])

    run(scenario())


def test_bad_authentications_are_refused_then_disconnected(sandbox):
    async def scenario():
        refused = [
            Listener(sandbox, ["message:send"], password="mauvaise-cle"),
            Listener(sandbox, ["message:send"], rooms=["site-inconnu"]),
            Listener(sandbox, ["message:send"], rooms=[sandbox.website_id, "site-inconnu"]),
            Listener(sandbox, ["message:send"], tier="marketplace"),
        ]
        for listener in refused:
            event, message = await listener.open()
            assert event == "unauthorized", (listener.auth, event)
            assert isinstance(message, str) and message.startswith("Authentification refusée")
            await asyncio.wait_for(listener.disconnects.get(), WITHIN)
            assert not listener.client.connected
        assert await admin(sandbox, "/_admin/rtm") == {"clients": 0, "events_sent": 0,
                                                       "auth_failures": len(refused)}
        # Un refusé ne reçoit rien de ce qui suit.
        session = first_session(sandbox)
        assert await admin(sandbox, "/_admin/rtm/emit", {"event": SENTINEL, "data": {}}) == {"sent": 0}
        await admin(sandbox, f"/_admin/conversations/{session}/messages", {"count": 1})
        await asyncio.sleep(0.2)
        assert all(listener.received.empty() for listener in refused)

    run(scenario())


def test_only_subscribed_events_of_joined_rooms_arrive():
    with start_sandbox(seed=6, conversations=12, websites=2) as sandbox:
        main, second = sandbox.websites
        session, other_session = first_session(sandbox), first_session(sandbox, second)

        async def scenario():
            on_main = await connected(sandbox, ["message:send"], [main])
            on_second = await connected(sandbox, ["message:send"], [second])
            on_both = await connected(sandbox, ["message:send"], [main, second])
            edits_only = await connected(sandbox, ["message:updated"], [main])
            silent = Listener(sandbox, ["message:send"], [main], authenticate=False)
            await silent.connect()  # connecté, jamais authentifié

            added = await admin(sandbox, f"/_admin/conversations/{session}/messages", {"count": 1})
            for listener in (on_main, on_both):
                event, data = await listener.next()
                assert (event, data["fingerprint"], data["website_id"]) == (
                    "message:send", added[0]["fingerprint"], main)
            await assert_nothing_before_sentinel(sandbox, [on_second, on_both], second)
            await assert_nothing_before_sentinel(sandbox, [on_main, on_both, edits_only])

            added = await admin(sandbox, f"/_admin/conversations/{other_session}/messages?website={second}",
                                {"count": 1})
            for listener in (on_second, on_both):
                event, data = await listener.next()
                assert (event, data["fingerprint"], data["website_id"]) == (
                    "message:send", added[0]["fingerprint"], second)
            await assert_nothing_before_sentinel(sandbox, [on_main, on_both, edits_only])
            assert (await admin(sandbox, "/_admin/rtm"))["clients"] == 4
            await asyncio.sleep(0.2)
            assert silent.received.empty() and silent.client.connected

        run(scenario())


# ----------------------------------------------------------------------------- pannes du flux


def test_disconnect_cuts_clients_who_reconnect_and_authenticate_again(sandbox):
    session = first_session(sandbox)

    async def scenario():
        listener = await connected(sandbox, ["message:send"], reconnection=True)
        assert await admin(sandbox, "/_admin/rtm/disconnect", {}) == {"disconnected": 1}
        await asyncio.wait_for(listener.disconnects.get(), WITHIN)
        # Reconnecté tout seul, il s'authentifie de nouveau (gestionnaire « connect »).
        assert await listener.next(timeout=5) == ("authenticated", {})
        assert (await admin(sandbox, "/_admin/rtm"))["clients"] == 1
        added = await admin(sandbox, f"/_admin/conversations/{session}/messages", {"count": 1})
        event, data = await listener.next()
        assert (event, data["fingerprint"]) == ("message:send", added[0]["fingerprint"])
        await listener.close()
        # Sans client, rien à couper.
        await asyncio.sleep(0.2)
        assert await admin(sandbox, "/_admin/rtm/disconnect", {}) == {"disconnected": 0}

    run(scenario())


def test_drop_and_duplicate_counts_are_honoured(sandbox):
    session = first_session(sandbox)
    path = f"/_admin/conversations/{session}/messages"

    async def scenario():
        listener = await connected(sandbox, ["message:send"])
        assert await admin(sandbox, "/_admin/rtm/drop", {"count": 2}) == {"drop_left": 2}
        # Un événement sans destinataire (personne n'écoute message:updated) n'entame rien.
        first = (await admin(sandbox, f"/_admin/truth/messages/{session}"))[0]
        await admin(sandbox, f"{path}/{first['fingerprint']}/edit", {"content": "x"})
        added = await admin(sandbox, path, {"count": 3})
        event, data = await listener.next()
        assert (event, data["fingerprint"]) == ("message:send", added[2]["fingerprint"])
        assert (await admin(sandbox, "/_admin/rtm"))["events_sent"] == 1

        assert await admin(sandbox, "/_admin/rtm/duplicate", {"count": 1}) == {"duplicate_left": 1}
        added = await admin(sandbox, path, {"count": 2})
        fingerprints = [(await listener.next())[1]["fingerprint"] for _ in range(3)]
        assert fingerprints == [added[0]["fingerprint"], added[0]["fingerprint"], added[1]["fingerprint"]]
        await assert_nothing_before_sentinel(sandbox, [listener])
        assert (await admin(sandbox, "/_admin/rtm"))["events_sent"] == 1 + 3 + 1

        for route in ("drop", "duplicate"):
            for bad in ({"count": -1}, {"count": "2"}, {}):
                assert await admin_error(sandbox, f"/_admin/rtm/{route}", bad) == (
                    400, {"error": "count doit être un entier positif ou nul"})

    run(scenario())


def test_emit_delivers_any_event_to_the_room():
    with start_sandbox(seed=6, conversations=8, websites=2) as sandbox:
        main, second = sandbox.websites

        async def scenario():
            on_main = await connected(sandbox, ["message:send"], [main])
            on_second = await connected(sandbox, [], [second])
            data = {"website_id": main, "nouveau": ["champ", 1, None], "texte": "éàü 🚀"}
            assert await admin(sandbox, "/_admin/rtm/emit", {"event": "website:inconnu", "data": data}) == {"sent": 1}
            assert await on_main.next() == ("website:inconnu", data)
            await assert_nothing_before_sentinel(sandbox, [on_second], second)
            assert await admin(sandbox, "/_admin/rtm/emit", {"event": "x:y", "website": second}) == {"sent": 1}
            assert await on_second.next() == ("x:y", {})
            await assert_nothing_before_sentinel(sandbox, [on_main])

            assert await admin_error(sandbox, "/_admin/rtm/emit", {"event": "a", "website": "inconnu"}) == (
                404, {"error": "site inconnu : inconnu"})
            for bad in ({"event": "connect"}, {"event": ""}, {"data": {}}, {"event": "a", "data": [1]}):
                assert (await admin_error(sandbox, "/_admin/rtm/emit", bad))[0] == 400, bad
            await assert_nothing_before_sentinel(sandbox, [on_main])

        run(scenario())
