"""Exports ninja et wanzo de bout en bout : vrais crawls contre leurs doublures (127.0.0.1)."""

from __future__ import annotations

import pytest

from tests.support.chat_support import export_problems, list_pages, message_file, minimum_calls
from tests.support.crawling import read_jsonl, run_crawl

SYSTEMS = ("ninja", "wanzo")


@pytest.fixture
def standin(request, ninja_sandbox_factory, wanzo_sandbox_factory):
    factories = {"ninja": ninja_sandbox_factory, "wanzo": wanzo_sandbox_factory}
    return lambda **options: factories[request.param](**{"seed": 3, "conversations": 40,
                                                          **options})


def calls(server) -> int:
    return server.stats()["calls"]


@pytest.mark.parametrize("standin", SYSTEMS, indirect=True)
def test_first_export_is_exact_at_the_minimum_then_reruns_cost_list_calls_only(standin, data_dir,
                                                                                 request):
    system = request.node.callspec.params["standin"]
    server = standin()
    first = run_crawl(system, data_dir, server.env())
    assert first.returncode == 0, first.log[-3000:]
    truth = server.truth()
    assert export_problems(system, data_dir, truth) == []
    assert calls(server) == minimum_calls(system, truth)
    assert "Fin : export terminé." in first.log

    # Aucun changement : seulement la liste.
    server.reset_stats()
    again = run_crawl(system, data_dir, server.env())
    assert again.returncode == 0, again.log[-3000:]
    assert calls(server) == list_pages(system, truth)
    assert export_problems(system, data_dir, truth) == []

    # k conversations changées : la liste, puis un appel pour chacune.
    ids = [c.get("uuid") or c.get("id") for c in truth["conversations"]][:3]
    for conversation_id in ids:
        server.append(str(conversation_id), count=2, same_timestamp=system == "wanzo")
    server.reset_stats()
    third = run_crawl(system, data_dir, server.env())
    assert third.returncode == 0, third.log[-3000:]
    truth = server.truth()
    assert export_problems(system, data_dir, truth) == []
    assert calls(server) == list_pages(system, truth) + len(ids)
    assert third.stats["messages/new"] == 2 * len(ids)


@pytest.mark.parametrize("standin", SYSTEMS, indirect=True)
def test_nb_limits_conversations_that_get_calls(standin, data_dir, request):
    system = request.node.callspec.params["standin"]
    server = standin()
    result = run_crawl(system, data_dir, server.env(), args={"nb": 5})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["messages/conversations_done"] == 5
    rest = run_crawl(system, data_dir, server.env())
    assert rest.returncode == 0
    assert rest.stats["messages/conversations_done"] == 35
    assert export_problems(system, data_dir, server.truth()) == []


@pytest.mark.parametrize("standin", SYSTEMS, indirect=True)
def test_storms_of_429_and_5xx_end_exact(standin, data_dir, request):
    system = request.node.callspec.params["standin"]
    server = standin(conversations=25, error_rate=0.2, throttle_ratio=0.15,
                     throttle_status=429, non_json_429_ratio=0.5)
    fast = {"CRISP_RETRY_BASE_DELAY": 0.01, "CRISP_THROTTLE_BASE_DELAY": 0.05, "RETRY_TIMES": 10}
    result = run_crawl(system, data_dir, server.env(), settings=fast, timeout=300)
    assert result.stats.get("crisp_throttle/throttled", 0) > 0
    if result.returncode != 0:
        # Une ressource a pu épuiser ses réessais : la relance la reprend.
        result = run_crawl(system, data_dir, server.env(), settings=fast, timeout=300)
    assert result.returncode == 0, result.log[-3000:]
    assert export_problems(system, data_dir, server.truth()) == []


@pytest.mark.parametrize("standin", SYSTEMS, indirect=True)
def test_wrong_token_stops_at_once_in_french(standin, data_dir, request):
    system = request.node.callspec.params["standin"]
    server = standin()
    env = {**server.env(), f"{system.upper()}_API_TOKEN": "faux-jeton-secret"}
    result = run_crawl(system, data_dir, env)
    assert result.returncode == 1
    assert calls(server) == 1
    assert "HTTP 401" in result.log and f"{system.upper()}_API_TOKEN" in result.log
    assert "faux-jeton-secret" not in result.log
    assert not (data_dir / system / "messages").exists() or \
        not list((data_dir / system / "messages").glob("*.jsonl"))


def test_wanzo_without_token_refuses_before_any_call(wanzo_sandbox, data_dir):
    env = {"WANZO_API_URL": wanzo_sandbox.url}
    result = run_crawl("wanzo", data_dir, env)
    assert result.returncode == 1
    assert "WANZO_API_TOKEN manquant" in result.log
    assert calls(wanzo_sandbox) == 0
    assert list(data_dir.iterdir()) == []


def test_ninja_token_is_optional_and_never_logged(ninja_sandbox_factory, data_dir):
    server = ninja_sandbox_factory(seed=2, conversations=10, token="")
    result = run_crawl("ninja", data_dir, server.env())
    assert result.returncode == 0, result.log[-3000:]
    assert export_problems("ninja", data_dir, server.truth()) == []
    secret = ninja_sandbox_factory(seed=2, conversations=10, token="jeton-tres-secret")
    other = data_dir.parent / "autre"
    other.mkdir()
    result = run_crawl("ninja", other, secret.env(), settings={"LOG_LEVEL": "DEBUG"})
    assert result.returncode == 0
    assert "jeton-tres-secret" not in result.log


def test_wanzo_contexts_moving_between_pages_are_neither_lost_nor_duplicated(
        wanzo_sandbox_factory, data_dir):
    # 120 contextes en pages de 50 ; deux contextes remontent en tête tous les 2 appels de liste.
    server = wanzo_sandbox_factory(seed=4, conversations=120, drift_every=2, drift_contexts=2)
    result = run_crawl("wanzo", data_dir, server.env())
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["listing/passes"] >= 2
    truth = server.truth()
    # La dérive a pu ajouter des messages après leur relevé : la relance les prend.
    server.drift(every=0)
    run_crawl("wanzo", data_dir, server.env())
    assert export_problems("wanzo", data_dir, server.truth()) == []
    lines = read_jsonl(data_dir / "wanzo" / "contexts.jsonl")
    assert len(lines) == len(truth["conversations"])


@pytest.mark.parametrize("policy", ["erase", "keep"])
@pytest.mark.parametrize("standin", SYSTEMS, indirect=True)
def test_deleted_conversation_follows_the_removal_policy_and_costs_nothing_after(
        standin, data_dir, request, policy):
    """Issue 21 : une conversation supprimée du système disparaît de la liste (relevée en
    entier) ; un appel sur ses messages le confirme (404), puis CRISP_REMOVED s'applique :
    erase efface sa ligne et son fichier, keep les garde ; noté, plus jamais demandée."""
    system = request.node.callspec.params["standin"]
    server = standin(conversations=12)
    env = {**server.env(), "CRISP_REMOVED": policy}
    first = run_crawl(system, data_dir, env)
    assert first.returncode == 0, first.log[-3000:]
    truth = server.truth()
    victim = next(c.get("uuid", c.get("id")) for c in truth["conversations"]
                  if truth["messages"][c.get("uuid", c.get("id"))])
    path = message_file(system, data_dir, victim)
    before = path.read_bytes()
    listing = next(p for p in (data_dir / system).glob("*.jsonl") if p.name != "messages")
    server.delete(victim)
    server.reset_stats()
    second = run_crawl(system, data_dir, env)
    assert second.returncode == 0, second.log[-3000:]
    assert second.stats["census/unlisted"] == 1
    assert second.stats["removed/conversations"] == 1
    assert calls(server) == list_pages(system, server.truth()) + 1  # la liste, puis 1 appel
    [record] = read_jsonl(data_dir / "suppressions.jsonl")
    assert (record["kind"], record["id"], record["policy"]) == (
        f"{system}_conversation", victim, policy)
    if policy == "erase":
        assert not path.exists()
        for file in data_dir.rglob("*"):
            if file.is_file() and file.name != "suppressions.jsonl":
                assert victim.encode() not in file.read_bytes(), file
    else:
        assert path.read_bytes() == before
        assert victim in listing.read_text()
    server.reset_stats()
    third = run_crawl(system, data_dir, env)
    assert third.returncode == 0, third.log[-3000:]
    assert calls(server) == list_pages(system, server.truth())  # la liste seule
    if policy == "erase":  # l'export est alors exactement le système
        assert export_problems(system, data_dir, server.truth()) == []


@pytest.mark.parametrize("standin", SYSTEMS, indirect=True)
def test_hostile_ids_stay_inside_the_data_directory(standin, data_dir, request):
    system = request.node.callspec.params["standin"]
    server = standin(conversations=10, hostile_ids=True)
    result = run_crawl(system, data_dir, server.env())
    assert result.returncode == 0, result.log[-3000:]
    assert export_problems(system, data_dir, server.truth()) == []
    root = data_dir.resolve()
    for path in data_dir.parent.rglob("*"):
        if path.is_file() and not path.name.startswith(".stats"):
            assert root in path.resolve().parents, path


def test_ninja_conversations_with_id_only_or_without_updated(ninja_sandbox_factory, data_dir):
    # Une conversation sans uuid est rangée sous son id ; sans « updated », elle coûte un appel
    # (since = dernier id) à chaque exécution, puisque rien ne dit si elle a changé.
    server = ninja_sandbox_factory(seed=6, conversations=20, id_ratio=0.3, no_updated_ratio=0.3)
    first = run_crawl("ninja", data_dir, server.env())
    assert first.returncode == 0, first.log[-3000:]
    truth = server.truth()
    assert export_problems("ninja", data_dir, truth) == []
    without_uuid = [c for c in truth["conversations"] if "uuid" not in c]
    without_updated = [c for c in truth["conversations"] if "updated" not in c]
    assert without_uuid and without_updated
    server.reset_stats()
    again = run_crawl("ninja", data_dir, server.env())
    assert again.returncode == 0
    assert calls(server) == list_pages("ninja", truth) + len(without_updated)
    assert again.stats["messages/new"] == 0


def test_ninja_token_given_as_setting_wins_and_is_never_logged(ninja_sandbox, data_dir):
    env = {"NINJA_API_URL": ninja_sandbox.url, "NINJA_API_TOKEN": "mauvais"}
    result = run_crawl("ninja", data_dir, env,
                       settings={"NINJA_API_TOKEN": ninja_sandbox.token, "LOG_LEVEL": "DEBUG"})
    assert result.returncode == 0, result.log[-3000:]
    assert ninja_sandbox.token not in result.log
    assert export_problems("ninja", data_dir, ninja_sandbox.truth()) == []
