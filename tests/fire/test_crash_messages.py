"""Preuve sous le feu, export des messages : arrêts brutaux (SIGKILL) et arrêts propres (SIGTERM).

Chaque arrêt vise un vrai ``scrapy crawl messages`` qui parle au vrai bac à sable. Les
moments sont observés de l'extérieur, sans aucun crochet dans le code de production :
compteurs d'appels du bac à sable (lent : 25 ms par appel, concurrence 2), apparition
des fichiers temporaires d'écriture atomique, changement du fichier d'état.

Les arrêts passent par ``interrupt`` (tests/support/interrupting.py). Après CHAQUE arrêt, le
répertoire des messages est inspecté (tests/support/fire_support.py, ``inspect_export``) : aucune
ligne partielle ou illisible, fichiers triés, sans doublon, chaque fichier est une
tranche contiguë et exacte de la vérité, complet s'il n'est pas noté « incomplete », état
en JSON valide. À la fin, une seule relance ordinaire doit suffire à obtenir exactement la
vérité du bac à sable.

Les arrêts « en pleine écriture » supposent que le répertoire temporaire de pytest est
sur un vrai disque (ext4, xfs…) où fsync prend un temps mesurable ; sur un tmpfs, passer
``--basetemp`` vers un disque.
"""

from __future__ import annotations

import random
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from crispsandbox.process import start_sandbox
from tests.support.crawling import CrawlResult, read_jsonl, run_crawl
from tests.support.fire_support import (
    Inspection,
    SessionCalls,
    StateChanged,
    TempFile,
    Throttled,
    Truth,
    inspect_export,
    interrupt_messages,
    messages_dir,
    read_state,
)
from tests.support.interrupting import (
    LOW_CONCURRENCY,
    Calls,
    Delay,
    Kill,
    assert_clean_stop,
    assert_every_kill_fired,
    assert_no_abandoned_temp_files,
    kill_problems,
)
from tests.support.messages_support import assert_matches_truth, calls_by_session, write_conversations

SEED = 20250611
ARGS = {"nb": 100}
# Messages ajoutés à la plus longue conversation : ~1 350 lignes, ~35 pages, un fichier
# dont l'écriture (avec fsync) dure assez longtemps pour être interrompue.
BIG_EXTRA = 1000


# L'état est écrit par lots (au plus une fois par seconde) ; cette chaîne vise des arrêts
# PENDANT l'écriture de l'état et juste après, en plein premier export : elle le fait écrire
# après chaque conversation, comme avant les lots. Les arrêts avec l'état par lots sont
# couverts par les autres tests d'arrêt (réglages par défaut).
PER_CONVERSATION_STATE = {**LOW_CONCURRENCY, "CRISP_MESSAGES_STATE_FLUSH": "0"}


def _plan(rng: random.Random, big: str) -> list[tuple[object, dict | None]]:
    """Les moments d'arrêt, dans l'ordre de la chaîne ; délais et rangs tirés de la graine.

    Les arrêts « pendant la pagination de la longue conversation » viennent avant la
    première écriture de son fichier, pour qu'elle soit encore à paginer.
    """
    early = sorted(rng.sample(range(2, 16), 4))  # pendant le premier export
    late = sorted(rng.sample(range(16, 31), 2))  # pendant les relances suivantes
    delays = [round(rng.uniform(0.0, 0.02), 4) for _ in range(5)]
    slow = {"rate_limit": 4, "non_json_429_ratio": 0.5}
    return [
        (Delay(round(rng.uniform(0.2, 0.6), 3)), None),
        (Calls(1), None),
        (TempFile("state"), None),
        (Calls(early[0]), None),
        (TempFile("message"), None),
        (StateChanged(delays[0]), None),
        (Calls(early[1]), None),
        (SessionCalls(big, 12), None),
        (TempFile("state"), None),
        (Calls(early[2]), None),
        (StateChanged(delays[1]), None),
        (SessionCalls(big, 25), None),
        (Calls(early[3]), None),
        (Throttled(2), slow),
        (TempFile("message", big), None),
        (TempFile("message"), None),
        (StateChanged(delays[2]), None),
        (Calls(late[0]), None),
        (TempFile("state"), None),
        (Throttled(3), slow),
        (TempFile("message", big), None),
        (StateChanged(delays[3]), None),
        (TempFile("message"), None),
        (Calls(late[1]), None),
        (TempFile("state"), None),
        (StateChanged(delays[4]), None),
        (TempFile("message"), None),
    ]


@dataclass
class Chain:
    kills: list[Kill]
    final: CrawlResult
    final_inspection: Inspection
    truth: Truth
    big: str
    data_dir: Path


@pytest.fixture(scope="module")
def sigkill_chain(tmp_path_factory):
    """Un export tué par SIGKILL à 27 moments, relancé à chaque fois, puis une relance finale.

    Entre deux exécutions, quelques messages arrivent dans quatre conversations tirées au
    sort (et dans la longue avant les arrêts qui visent son écriture) : chaque relance a
    donc vraiment à écrire, comme un compte vivant.
    """
    sandbox = start_sandbox(seed=1, conversations=30, latency_ms=25)
    try:
        data_dir = tmp_path_factory.mktemp("sigkill") / "data"
        data_dir.mkdir()
        ids = [c["session_id"] for c in write_conversations(sandbox, data_dir)]
        truth = Truth(sandbox, ids, listing=data_dir)
        big = max(ids, key=lambda session_id: len(truth.messages[session_id]))
        truth.add_messages(big, BIG_EXTRA)
        rng = random.Random(SEED)
        kills = []
        for trigger, faults in _plan(rng, big):
            for session_id in rng.sample(ids, 4):
                truth.add_messages(session_id, rng.randint(1, 4))
            if isinstance(trigger, TempFile) and trigger.session_id:
                truth.add_messages(big, 2)
            if faults:
                sandbox.admin("/_admin/faults", method="POST", json=faults)
            try:
                outcome = interrupt_messages(sandbox, data_dir, trigger, args=ARGS,
                                             settings=PER_CONVERSATION_STATE)
            finally:
                if faults:
                    sandbox.admin("/_admin/faults/reset", method="POST")
            kills.append(Kill(outcome, inspect_export(data_dir, truth)))
        final = run_crawl("messages", data_dir, sandbox.env(), args=ARGS,
                          settings=PER_CONVERSATION_STATE)
        yield Chain(kills, final, inspect_export(data_dir, truth), truth, big, data_dir)
    finally:
        sandbox.stop()


def test_every_kill_point_was_reached_by_a_real_sigkill(sigkill_chain):
    """Couverture : au moins 20 moments distincts, tous atteints, dont de vraies écritures
    interrompues (fichier temporaire laissé sur place).

    Moments couverts (voir ``_plan``) : démarrage du processus ; premier appel (envoyé
    seul) en vol ; n-ième appel en vol pour six rangs tirés entre 2 et 30 ; pagination de
    la longue conversation (12e et 25e lot) ; ralentissement (requêtes en recul après des
    429) ; écriture d'un fichier de messages ; écriture du fichier de la longue
    conversation (~1 350 lignes) ; écriture du fichier d'état ; 0 à 20 ms après une
    sauvegarde de l'état.
    """
    kills = sigkill_chain.kills
    assert len(kills) >= 20
    # Un fichier temporaire resté sur place prouve que le processus est mort en pleine
    # écriture, avant le os.replace.
    left = assert_every_kill_fired(kills)
    assert any(name.startswith(".messages.jsonl.state.json.") for name in left), left
    assert any(name.startswith(".session_") for name in left), left
    assert any(name.startswith(f".{sigkill_chain.big}.jsonl.") for name in left), left


def test_no_kill_ever_leaves_a_corrupt_duplicated_or_silently_incomplete_file(sigkill_chain):
    """Après chaque SIGKILL : lignes complètes, tri, aucun doublon, tranches exactes de la
    vérité, et tout fichier non noté « incomplete » contient jusqu'au tout premier message."""
    problems = kill_problems(sigkill_chain.kills)
    assert not problems, problems
    # Les arrêts se répartissent sur tout le premier export (il progresse d'un arrêt à
    # l'autre), puis sur les relances qui complètent des fichiers existants.
    everything = set(sigkill_chain.truth.session_ids)
    during_first_export = [k for k in sigkill_chain.kills if k.inspection.complete != everything]
    assert len(during_first_export) >= 10
    progress = [len(k.inspection.complete) for k in during_first_export]
    assert progress == sorted(progress) and progress[-1] > progress[0] + 10, progress


def test_one_plain_rerun_after_the_last_kill_restores_the_exact_truth(sigkill_chain):
    final, truth = sigkill_chain.final, sigkill_chain.truth
    assert final.returncode == 0, final.log[-3000:]
    assert final.reason == "finished"
    assert not sigkill_chain.final_inspection.problems, sigkill_chain.final_inspection.problems
    assert_matches_truth(truth.sandbox, sigkill_chain.data_dir, truth.session_ids)
    assert read_state(sigkill_chain.data_dir)["incomplete"] == {}
    # Les fichiers temporaires abandonnés ne sont jamais pris pour des conversations.
    assert final.stats["messages/files"] == len(truth.session_ids)
    assert not list(messages_dir(sigkill_chain.data_dir).glob("*.lignes-illisibles"))


def test_temporary_files_of_killed_writes_do_not_accumulate(sigkill_chain):
    """Les « .{nom}.XXXX.tmp » laissés par les écritures tuées doivent être nettoyés par une
    exécution suivante : sinon chaque arrêt brutal en laisse un de plus (jusqu'à la taille
    du plus gros fichier), indéfiniment."""
    assert_no_abandoned_temp_files(sigkill_chain.final_inspection.temp_files)


# --- SIGTERM : arrêt propre -------------------------------------------------------------
def test_sigterm_at_five_moments_saves_state_then_resumes_exactly(sandbox_factory, data_dir):
    """SIGTERM : après le 2e appel, en pleine pagination d'une longue conversation, pendant
    l'écriture de son fichier, pendant celle de l'état, 5 ms après une sauvegarde.

    Chaque arrêt : code 2, finish_reason « shutdown », récapitulatif français qui dit
    « arrêt demandé », état valide. La conversation interrompue en pleine pagination est
    sauvée en partiel ET notée incomplète ; la relance reprend sous son plus ancien message
    au lieu de tout redemander.
    """
    sandbox = sandbox_factory(seed=3, conversations=20, latency_ms=25)
    ids = [c["session_id"] for c in write_conversations(sandbox, data_dir)]
    truth = Truth(sandbox, ids, listing=data_dir)
    big = max(ids, key=lambda session_id: len(truth.messages[session_id]))
    truth.add_messages(big, 400)
    pages = -(-len(truth.messages[big]) // 40)

    def stop(trigger, args=ARGS):
        # L'état est écrit par lots (au plus une fois par seconde) : sur un export si court,
        # seulement à la fin. Pour tomber PENDANT une écriture de l'état en cours de route,
        # on le fait écrire après chaque conversation (CRISP_MESSAGES_STATE_FLUSH=0).
        settings = {**LOW_CONCURRENCY, "CRISP_MESSAGES_STATE_FLUSH": "0"}
        outcome = interrupt_messages(sandbox, data_dir, trigger, sig=signal.SIGTERM,
                                     args=args, settings=settings)
        assert_clean_stop(outcome, "messages", max_seconds=10)
        inspection = inspect_export(data_dir, truth)
        assert not inspection.problems, (outcome.description, inspection.problems)
        return outcome, inspection

    stop(Calls(2))
    _, inspection = stop(SessionCalls(big, 6))
    assert big in inspection.partial
    assert big in read_state(data_dir)["incomplete"]
    done_pages = len(read_jsonl(messages_dir(data_dir) / f"{big}.jsonl")) // 40
    assert done_pages >= 5
    # Relance ordinaire : la conversation partielle reprend sous son plus ancien message.
    sandbox.admin("/_admin/stats/reset", method="POST")
    resumed = run_crawl("messages", data_dir, sandbox.env(), args=ARGS, settings=LOW_CONCURRENCY)
    assert resumed.returncode == 0, resumed.log[-3000:]
    assert calls_by_session(sandbox)[big] <= pages - done_pages + 2, (pages, done_pages)
    assert_matches_truth(sandbox, data_dir, ids)
    for trigger in (TempFile("message", big), TempFile("state"), StateChanged(0.005)):
        truth.add_messages(big, 2)  # de quoi réécrire le plus gros fichier à chaque relance
        # verify=1 : chaque conversation est redemandée, la relance a assez à faire pour être
        # interrompue en cours de route (sinon seule la conversation changée le serait).
        stop(trigger, {**ARGS, "verify": 1})

    final = run_crawl("messages", data_dir, sandbox.env(), args=ARGS)
    assert final.returncode == 0, final.log[-3000:]
    assert_matches_truth(sandbox, data_dir, ids)
    assert read_state(data_dir)["incomplete"] == {}


def test_sigterm_during_a_long_throttle_wait_stops_promptly(sandbox_factory, data_dir):
    """Un SIGTERM pendant qu'une requête attend son Retry-After (30 s) doit arrêter le crawl
    tout de suite (état sauvegardé, code 2), pas à la fin de l'attente ; puis la relance,
    sans ralentissement, termine l'export."""
    sandbox = sandbox_factory(seed=2, conversations=12, rate_limit=3, retry_after=30)
    ids = [c["session_id"] for c in write_conversations(sandbox, data_dir)]
    outcome = interrupt_messages(sandbox, data_dir, Throttled(1), sig=signal.SIGTERM,
                                 args=ARGS, stop_timeout=12)
    assert outcome.fired
    assert "API ralentie (HTTP 429)" in outcome.log
    assert_clean_stop(outcome, "messages", max_seconds=10)
    sandbox.admin("/_admin/faults", method="POST", json={"rate_limit": 0})
    final = run_crawl("messages", data_dir, sandbox.env(), args=ARGS)
    assert final.returncode == 0, final.log[-3000:]
    assert_matches_truth(sandbox, data_dir, ids)
