"""Ninja et wanzo sous le feu : arrêts brutaux à plusieurs moments puis simples relances,
entrées abîmées. Vrais crawls contre les doublures ; jugé de l'extérieur (fichiers, vérité)."""

from __future__ import annotations

import json
import signal

import pytest

from tests.support.chat_support import export_problems, message_file
from tests.support.crawling import run_crawl
from tests.support.interrupting import FAST, LOW_CONCURRENCY, Calls, TempFileCreated, interrupt

SYSTEMS = ("ninja", "wanzo")
SETTINGS = {**FAST, **LOW_CONCURRENCY}


def _server(system, ninja_sandbox_factory, wanzo_sandbox_factory, **options):
    factory = ninja_sandbox_factory if system == "ninja" else wanzo_sandbox_factory
    # Pages de messages longues (250 messages) : un arrêt tombe aussi en pleine pagination.
    return factory(**{"seed": 5, "conversations": 24, "latency_ms": 25, "long_ratio": 0.2,
                      **options})


class ListingTemp(TempFileCreated):
    """Pendant la réécriture atomique du fichier de la liste."""

    def __init__(self, system: str):
        self.relative_dir = system
        self.description = "réécriture de la liste"

    def matches(self, name):
        return True


def _finish(system, data_dir, server):
    for _ in range(3):
        result = run_crawl(system, data_dir, server.env(), settings=SETTINGS)
        if result.returncode == 0:
            return result
    raise AssertionError(result.log[-3000:])


@pytest.mark.parametrize("system", SYSTEMS)
def test_sigkill_at_several_moments_then_plain_reruns_equal_truth(
        system, data_dir, ninja_sandbox_factory, wanzo_sandbox_factory):
    server = _server(system, ninja_sandbox_factory, wanzo_sandbox_factory)
    moments = [Calls(1), ListingTemp(system), Calls(3, after=0.02), Calls(6, after=0.03),
               Calls(10), Calls(14, after=0.025)]
    fired = 0
    for number, moment in enumerate(moments):
        outcome = interrupt(system, server, data_dir, moment, system, sig=signal.SIGKILL,
                            settings=SETTINGS, timeout=90)
        fired += outcome.fired
        if number == 3:
            # De nouveaux messages entre deux arrêts : l'incrémental est aussi éprouvé.
            first = server.truth()["conversations"][0]
            server.append(str(first.get("uuid") or first.get("id")), count=3)
    assert fired >= 4
    _finish(system, data_dir, server)
    assert export_problems(system, data_dir, server.truth()) == []


@pytest.mark.parametrize("system", SYSTEMS)
def test_corrupt_state_is_refused_in_french_then_reset_recovers(
        system, data_dir, ninja_sandbox_factory, wanzo_sandbox_factory):
    server = _server(system, ninja_sandbox_factory, wanzo_sandbox_factory, latency_ms=0)
    assert run_crawl(system, data_dir, server.env()).returncode == 0
    state = data_dir / system / "messages" / "messages.jsonl.state.json"
    state.write_text('{"next_index": "abc"', encoding="utf-8")
    before = {p: p.read_bytes() for p in (data_dir / system).rglob("*") if p.is_file()}
    refused = run_crawl(system, data_dir, server.env())
    assert refused.returncode == 1
    assert "reset=1" in refused.log
    assert {p: p.read_bytes() for p in (data_dir / system).rglob("*") if p.is_file()} == before
    recovered = run_crawl(system, data_dir, server.env(), args={"reset": 1})
    assert recovered.returncode == 0, recovered.log[-3000:]
    assert export_problems(system, data_dir, server.truth()) == []


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_corrupt_line_is_set_aside_and_the_conversation_refetched(
        system, data_dir, ninja_sandbox_factory, wanzo_sandbox_factory):
    server = _server(system, ninja_sandbox_factory, wanzo_sandbox_factory, latency_ms=0)
    assert run_crawl(system, data_dir, server.env()).returncode == 0
    truth = server.truth()
    victim = next(cid for cid, msgs in truth["messages"].items() if len(msgs) >= 3)
    path = message_file(system, data_dir, victim)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lost = json.loads(lines[1])
    lines[1] = lines[1][: len(lines[1]) // 2] + "\n"  # ligne du milieu tronquée
    path.write_text("".join(lines), encoding="utf-8")
    result = run_crawl(system, data_dir, server.env())
    assert result.returncode == 0, result.log[-3000:]
    assert export_problems(system, data_dir, server.truth()) == []
    assert lost in [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    aside = path.with_name(path.name + ".lignes-illisibles")
    assert aside.exists()
