"""Niveaux de jeton du bac à sable (--tier plugin|website), vérifiés en HTTP réel.

Un bac à sable n'admet que le niveau avec lequel il a été lancé : les bons identifiants
présentés avec l'autre niveau sont refusés en 401 unauthorized (un jeton est cherché parmi
ceux de son niveau, hypothèse sur Crisp), un en-tête absent ou inconnu en 403.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest

from tests.support.sandbox_process import start_sandbox

OTHER = {"plugin": "website", "website": "plugin"}


@pytest.fixture(scope="module", params=["plugin", "website"])
def tiered(request):
    """Un petit bac à sable lancé avec le niveau du paramètre."""
    with start_sandbox(seed=2, conversations=4, tier=request.param) as running:
        yield running


def call(sandbox, path, tier=None, drop_tier=False):
    """GET avec les bons identifiants ; ``tier`` remplace l'en-tête X-Crisp-Tier."""
    headers = sandbox.auth_headers()
    if tier is not None:
        headers["X-Crisp-Tier"] = tier
    if drop_tier:
        del headers["X-Crisp-Tier"]
    status, _, body = sandbox.api(path, headers=headers)
    return status, json.loads(body)


def routes(sandbox):
    """Une route de chaque nature : liste, messages d'une conversation, profil."""
    site = f"/website/{sandbox.website_id}"
    session = sandbox.admin("/_admin/truth/conversations")[0]["session_id"]
    email = sandbox.admin("/_admin/truth/profiles")[0]["email"]
    return [f"{site}/conversations/1", f"{site}/conversation/{session}/messages",
            f"{site}/people/profile/{urllib.parse.quote(email, safe='')}"]


def assert_refused(status, body, expected_status, reason):
    assert (status, body["error"], body["reason"]) == (expected_status, True, reason)
    assert set(body["data"]) == {"namespace", "message"}


def test_own_tier_is_accepted_on_every_route(tiered):
    own = tiered.options["tier"]
    assert tiered.admin("/_admin/config")["tier"] == own
    # L'aide des tests envoie le niveau du bac à sable, pas « plugin » en dur.
    assert tiered.auth_headers()["X-Crisp-Tier"] == own
    for path in routes(tiered):
        status, body = call(tiered, path)
        assert status in (200, 206) and body["error"] is False, (path, body)
    # La casse de l'en-tête ne compte pas.
    assert call(tiered, routes(tiered)[0], tier=own.upper())[0] == 200


def test_other_tier_is_unauthorized(tiered):
    other = OTHER[tiered.options["tier"]]
    for path in routes(tiered):
        status, body = call(tiered, path, tier=other)
        assert_refused(status, body, 401, "unauthorized")


def test_missing_or_unknown_tier_is_restricted(tiered):
    path = routes(tiered)[0]
    assert_refused(*call(tiered, path, drop_tier=True), 403, "restricted_route_tier")
    assert_refused(*call(tiered, path, tier="marketplace"), 403, "restricted_route_tier")


def test_wrong_credentials_stay_unauthorized_with_own_tier(tiered):
    headers = {**tiered.auth_headers(), "Authorization": "Basic eDp5"}  # « x:y »
    status, _, body = tiered.api(routes(tiered)[0], headers=headers)
    assert_refused(status, json.loads(body), 401, "unauthorized")


def test_env_announces_the_tier_to_the_exporter(tiered):
    tier = tiered.options["tier"]
    assert tiered.env().get("CRISP_TOKEN_TIER", "plugin") == tier
    assert ("CRISP_TOKEN_TIER" in tiered.env()) == (tier == "website")
