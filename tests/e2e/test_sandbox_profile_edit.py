"""Modification d'un profil du bac à sable Crisp (POST /_admin/profiles/{people_id}/edit),
vérifiée en HTTP réel contre un sous-processus : la fiche REST (par people_id et par e-mail)
et la liste des profils montrent le changement, un client temps réel reçoit
people:profile:updated ; e-mail ou people_id changés : 400 ; personne inconnue : 404."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
from urllib.parse import urlsplit

import pytest
import socketio

from tests.support.sandbox_process import start_sandbox

PER_PAGE = 20
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def sandbox():
    """Bac à sable neuf pour chaque test : les modifications ne se voient pas d'un test à l'autre."""
    with start_sandbox(seed=5, conversations=40) as running:
        yield running


def get(sandbox, path, params=None):
    """GET API décodé : (statut, enveloppe JSON)."""
    status, _, body = sandbox.api(f"/website/{sandbox.website_id}{path}", params)
    return status, json.loads(body)


def rest_profiles(sandbox, profile):
    """Fiche REST par people_id et par e-mail encodé : les deux données."""
    by_id = get(sandbox, f"/people/profile/{profile['people_id']}")
    by_email = get(sandbox, "/people/profile/" + urllib.parse.quote(profile["email"], safe=""))
    assert by_id[0] == by_email[0] == 200
    return by_id[1]["data"], by_email[1]["data"]


def post_error(sandbox, path, payload=None):
    """POST d'administration qui doit échouer : (statut, corps JSON décodé)."""
    with pytest.raises(urllib.error.HTTPError) as raised:
        sandbox.admin(path, method="POST", json=payload)
    with raised.value as error:
        return error.code, json.loads(error.read().decode("utf-8"))


def test_edit_shows_in_rest_profile_and_list(sandbox):
    truth = sandbox.admin("/_admin/truth/profiles")
    target, other = truth[2], truth[3]
    assert rest_profiles(sandbox, target) == (target, target)

    edited = sandbox.admin(f"/_admin/profiles/{target['people_id']}/edit", method="POST", json={
        "person": {"nickname": "Zoé Modifiée 🌸"}, "segments": ["vip", "modifié"]})

    # Fusion : le reste de « person » et de la fiche est intact, updated_at avance.
    assert edited["person"] == {**target["person"], "nickname": "Zoé Modifiée 🌸"}
    assert edited["segments"] == ["vip", "modifié"]
    assert edited["updated_at"] > target["updated_at"]
    assert edited == {**target, "person": edited["person"], "segments": ["vip", "modifié"],
                      "updated_at": edited["updated_at"]}
    assert rest_profiles(sandbox, target) == (edited, edited)
    status, page = get(sandbox, "/people/profiles/1", {"per_page": PER_PAGE})
    assert status == 200 and page["data"][2] == edited and page["data"][3] == other
    assert sandbox.admin("/_admin/truth/profiles") == [edited if p is target else p for p in truth]

    # Une deuxième modification part de la première ; l'e-mail redonné à l'identique est permis.
    again = sandbox.admin(f"/_admin/profiles/{target['people_id']}/edit", method="POST", json={
        "email": target["email"], "notepad": "Rappeler lundi"})
    assert again["person"]["nickname"] == "Zoé Modifiée 🌸" and again["notepad"] == "Rappeler lundi"
    assert again["updated_at"] > edited["updated_at"]
    assert rest_profiles(sandbox, target) == (again, again)

    # Supprimée ensuite : la fiche rendue est la modifiée, puis elle est inconnue.
    assert sandbox.admin(f"/_admin/profiles/{target['people_id']}/delete", method="POST") == again
    assert post_error(sandbox, f"/_admin/profiles/{target['people_id']}/edit", {"notepad": "x"}) == (
        404, {"error": "profil inconnu"})


def test_refused_edits_change_nothing(sandbox):
    truth = sandbox.admin("/_admin/truth/profiles")
    target = truth[0]
    path = f"/_admin/profiles/{target['people_id']}/edit"
    assert post_error(sandbox, path, {"email": "autre@example.com", "notepad": "x"}) == (
        400, {"error": "email ne peut pas être modifié"})
    assert post_error(sandbox, path, {"people_id": UNKNOWN}) == (
        400, {"error": "people_id ne peut pas être modifié"})
    for unknown in (UNKNOWN, urllib.parse.quote(target["email"], safe="")):  # un e-mail n'est pas un people_id
        assert post_error(sandbox, f"/_admin/profiles/{unknown}/edit", {"notepad": "x"}) == (
            404, {"error": "profil inconnu"})
    assert sandbox.admin("/_admin/truth/profiles") == truth
    assert rest_profiles(sandbox, target) == (target, target)


def test_edit_sends_people_profile_updated(sandbox):
    """Un client RTM authentifié pour le site reçoit people:profile:updated ; une
    modification refusée n'annonce rien (témoin /_admin/rtm/emit reçu le premier)."""
    target = sandbox.admin("/_admin/truth/profiles")[1]
    status, _, body = sandbox.api(f"/{sandbox.tier}/connect/endpoints")
    assert status == 200
    address = urlsplit(json.loads(body)["data"]["socket"]["app"])

    async def scenario():
        client = socketio.AsyncClient(reconnection=False)
        received: asyncio.Queue = asyncio.Queue()

        async def on_connect():
            await client.emit("authentication", {
                "tier": sandbox.tier, "username": sandbox.identifier, "password": sandbox.key,
                "events": ["people:profile:updated", "people:profile:removed"],
                "rooms": [sandbox.website_id]})

        async def on_event(event, data=None):
            await received.put((event, data))

        async def admin(path, payload):
            return await asyncio.to_thread(sandbox.admin, path, "POST", payload)

        client.on("connect", on_connect)
        client.on("*", on_event)
        try:
            await client.connect(f"{address.scheme}://{address.netloc}", socketio_path=address.path,
                                 transports=["websocket"], wait_timeout=5)
            assert await asyncio.wait_for(received.get(), 5) == ("authenticated", {})
            edited = await admin(f"/_admin/profiles/{target['people_id']}/edit", {"score": 7})
            assert edited["score"] == 7
            assert await asyncio.wait_for(received.get(), 1) == ("people:profile:updated", {
                "website_id": sandbox.website_id, "people_id": target["people_id"], "email": target["email"]})
            with pytest.raises(urllib.error.HTTPError) as raised:
                await admin(f"/_admin/profiles/{target['people_id']}/edit", {"email": "autre@example.com"})
            raised.value.close()
            assert raised.value.code == 400
            sentinel = {"event": "test:temoin", "data": {"n": 1}, "website": sandbox.website_id}
            assert await admin("/_admin/rtm/emit", sentinel) == {"sent": 1}
            assert await asyncio.wait_for(received.get(), 1) == ("test:temoin", {"n": 1})
        finally:
            await client.shutdown()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_edit_follows_website_query():
    with start_sandbox(seed=9, conversations=12, websites=2) as sandbox:
        main_profiles = sandbox.admin("/_admin/truth/profiles")
        second = sandbox.websites[1]
        profile = sandbox.admin(f"/_admin/truth/profiles?website={second}")[0]
        path = f"/_admin/profiles/{profile['people_id']}/edit"
        assert post_error(sandbox, path, {"notepad": "x"}) == (404, {"error": "profil inconnu"})
        edited = sandbox.admin(f"{path}?website={second}", method="POST", json={"notepad": "deuxième site"})
        assert edited["notepad"] == "deuxième site"
        status, _, body = sandbox.api(f"/website/{second}/people/profile/{profile['people_id']}")
        assert status == 200 and json.loads(body)["data"] == edited
        assert sandbox.admin("/_admin/truth/profiles") == main_profiles
