"""Preuve sous le feu, export des profils (``scrapy crawl users``) : arrêts brutaux, arrêts
propres, pannes de l'API, quota en cours de route.

Vrais crawls contre le vrai bac à sable ; moments d'arrêt observés de l'extérieur. Le
fichier des conversations est écrit d'après la vérité du bac à sable (250 conversations :
environ 115 adresses distinctes, dont une vingtaine sans fiche).

Invariants vérifiés après CHAQUE arrêt (``inspect_users``) : toute ligne complète est du
JSON lisible et le profil exact d'une personne des conversations, sans doublon d'adresse
(casse ignorée) ; l'état est un objet JSON valide dont les adresses « sans fiche » n'ont
vraiment pas de fiche. À la fin : exactement les profils de la vérité, triés par adresse
(casefold), et toutes les adresses sans fiche retenues dans l'état.
"""

from __future__ import annotations

import json
import random
import signal
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crispsandbox.process import start_sandbox
from tests.support.crawling import CrawlResult, read_jsonl, run_crawl
from tests.support.fire_listing_support import (
    FileChanged,
    ListingInspection,
    TempFile,
    canonical,
    reset_sandbox,
    retry_reasons,
    start_inspection,
    statuses,
)
from tests.support.interrupting import (
    FAST,
    LOW_CONCURRENCY,
    Calls,
    Kill,
    assert_clean_stop,
    assert_every_kill_fired,
    assert_no_abandoned_temp_files,
    interrupt,
    kill_problems,
    summary_block,
    temp_files,
)
from tests.support.write_kills import kill_during_write

FOLDER = "utilisateurs"
DATA = f"{FOLDER}/utilisateurs.jsonl"
STATE = f"{FOLDER}/utilisateurs.jsonl.state.json"
# nb au-delà du nombre d'adresses : seuls les arrêts, pannes et quota coupent l'export.
ARGS = {"nb": 1000}
LATENCY = 0.06


# --- Vérité du bac à sable et invariants ---------------------------------------------------
class PeopleTruth:
    """Adresses des conversations (casefold), profils attendus, adresses sans fiche."""

    def __init__(self, sandbox, data_dir: Path):
        conversations = sandbox.admin("/_admin/truth/conversations")
        path = Path(data_dir) / "conversations" / "conversations.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in conversations),
                        encoding="utf-8")
        self.emails = {c["meta"]["email"].strip().casefold() for c in conversations
                       if c["meta"].get("email")}
        profiles = [p for p in sandbox.admin("/_admin/truth/profiles")
                    if p["email"].casefold() in self.emails]
        self.profiles = sorted(profiles, key=lambda p: p["email"].casefold())
        self.by_key = {p["email"].casefold(): canonical(p) for p in self.profiles}
        self.no_profile = sorted(self.emails - set(self.by_key))


@dataclass
class Inspection(ListingInspection):
    keys: list[str] = field(default_factory=list)


def inspect_users(data_dir: Path, truth: PeopleTruth) -> Inspection:
    """Vérifie le fichier des profils et son état, à n'importe quel moment."""
    found = start_inspection(Inspection, data_dir, DATA, STATE)
    state = found.state
    for number, profile in enumerate(found.snapshot.objects, start=1):
        email = profile.get("email") if isinstance(profile, dict) else None
        key = email.casefold() if isinstance(email, str) else None
        if truth.by_key.get(key) != canonical(profile):
            found.problems.append(f"ligne {number} : pas le profil exact d'une personne ({email!r})")
        found.keys.append(key)
    if len(set(found.keys)) != len(found.keys):
        found.problems.append("adresse en double (casse ignorée)")
    if state is not None:
        not_found, aliases = state.get("not_found"), state.get("aliases")
        if state.get("format") != 1 or not isinstance(not_found, list) \
                or not isinstance(aliases, dict):
            found.problems.append(f"état inattendu : {state!r}")
        elif not set(not_found) <= set(truth.no_profile):
            found.problems.append(f"adresses notées sans fiche à tort : "
                                  f"{sorted(set(not_found) - set(truth.no_profile))}")
    return found


def assert_exact_truth(data_dir: Path, truth: PeopleTruth) -> None:
    got = read_jsonl(data_dir / DATA)
    assert sorted(map(canonical, got)) == sorted(map(canonical, truth.profiles)), \
        "les profils du fichier ne sont pas exactement ceux de la vérité"
    keys = [p["email"].casefold() for p in got]
    assert keys == sorted(keys), "fichier non trié par adresse (casefold)"
    assert got == truth.profiles  # objets exacts, un par adresse, triés par adresse (casefold)
    state = json.loads((data_dir / STATE).read_text(encoding="utf-8"))
    assert state["not_found"] == truth.no_profile  # chaque 404 retenu


def crawl(sandbox, data_dir, settings=None) -> CrawlResult:
    return run_crawl("users", data_dir, sandbox.env(), args=ARGS, settings=settings)


# --- SIGKILL à de nombreux moments ---------------------------------------------------------------
@dataclass
class Chain:
    kills: list[Kill]
    final: CrawlResult
    final_people_calls: int
    truth: PeopleTruth
    data_dir: Path


def _kill_plan(rng: random.Random):
    def jitter():
        return round(LATENCY + rng.uniform(0.0, 0.02), 3)

    added = "du fichier des profils (ajout)"
    not_found = "de l'état (adresse sans fiche retenue)"
    return [
        Calls(1),
        Calls(12, after=jitter()),
        FileChanged(DATA, added),
        FileChanged(STATE, not_found),
        TempFile(FOLDER, "utilisateurs.jsonl.state.json", "de l'état"),
        Calls(20, after=jitter()),
        FileChanged(DATA, added, after=0.002, nth=6),
        TempFile(FOLDER, "utilisateurs.jsonl", "du fichier (tri final)"),
    ]


def _kill(sandbox, data_dir: Path, trigger):
    """Un SIGKILL au moment ``trigger`` ; pendant une écriture atomique (TempFile), retenté
    depuis le dossier des profils d'avant la tentative tant qu'il tombe à côté
    (tests/support/write_kills.py)."""
    if isinstance(trigger, TempFile):
        return kill_during_write("users", sandbox, data_dir, trigger, FOLDER, data_dir / FOLDER,
                                 args=ARGS, settings=LOW_CONCURRENCY)
    return interrupt("users", sandbox, data_dir, trigger, FOLDER, args=ARGS,
                     settings=LOW_CONCURRENCY)


@pytest.fixture(scope="module")
def sigkill_chain(tmp_path_factory):
    """L'export des profils tué par SIGKILL à 8 moments (concurrence 2, 60 ms par appel),
    chaque exécution reprenant la précédente, puis une relance ordinaire."""
    sandbox = start_sandbox(seed=11, conversations=250, latency_ms=LATENCY * 1000)
    try:
        data_dir = tmp_path_factory.mktemp("users-sigkill") / "data"
        data_dir.mkdir()
        truth = PeopleTruth(sandbox, data_dir)
        kills = []
        for trigger in _kill_plan(random.Random(20250612)):
            outcome = _kill(sandbox, data_dir, trigger)
            kills.append(Kill(outcome, inspect_users(data_dir, truth)))
        sandbox.admin("/_admin/stats/reset", method="POST")
        final = crawl(sandbox, data_dir, settings=LOW_CONCURRENCY)
        calls = sandbox.admin("/_admin/stats")["by_kind"]["people"]
        yield Chain(kills, final, calls, truth, data_dir)
    finally:
        sandbox.stop()


def test_every_kill_point_was_reached_by_a_real_sigkill(sigkill_chain):
    """8 moments : 1er appel (envoyé seul) en vol ; juste après les 12e et 20e appels ;
    dès le premier ajout d'un profil, 2 ms après le 6e ; juste après la sauvegarde d'une
    adresse sans fiche ; en pleine écriture atomique de l'état ; pendant le tri final."""
    kills = sigkill_chain.kills
    assert len(kills) >= 6
    left = assert_every_kill_fired(kills)
    assert any(n.startswith(".utilisateurs.jsonl.state.json.") for n in left), left
    assert any(n.startswith(".utilisateurs.jsonl.") and ".state.json." not in n for n in left), left
    # Le dernier arrêt tombe bien pendant le tri final : tous les profils étaient écrits.
    assert len(kills[-1].inspection.keys) == len(sigkill_chain.truth.profiles)


def test_no_kill_leaves_a_corrupt_duplicated_or_wrong_export(sigkill_chain):
    problems = kill_problems(sigkill_chain.kills)
    assert not problems, problems
    progress = [len(k.inspection.keys) for k in sigkill_chain.kills]
    assert progress == sorted(progress), progress
    assert progress[0] == 0 and len(set(progress)) >= 5, progress
    remembered = [len((k.inspection.state or {}).get("not_found", [])) for k in sigkill_chain.kills]
    assert remembered == sorted(remembered), remembered


def test_plain_rerun_after_the_last_kill_gives_the_exact_truth(sigkill_chain):
    """Tué pendant le tri final, il ne reste rien à demander : la relance ordinaire ne fait
    aucun appel, mais doit rendre le fichier trié comme documenté (« trié par adresse à la
    fin de chaque exécution »)."""
    final = sigkill_chain.final
    assert final.returncode == 0, final.log[-3000:]
    assert final.reason == "finished"
    assert sigkill_chain.final_people_calls == 0
    assert final.stats["users/ignored_not_found_known"] == len(sigkill_chain.truth.no_profile)
    assert_exact_truth(sigkill_chain.data_dir, sigkill_chain.truth)


def test_temporary_files_of_killed_writes_do_not_accumulate(sigkill_chain):
    assert_no_abandoned_temp_files(temp_files(sigkill_chain.data_dir / FOLDER))


# --- SIGTERM : arrêt propre ---------------------------------------------------------------------
def test_sigterm_stops_cleanly_then_a_plain_rerun_completes(sandbox_factory, data_dir):
    """SIGTERM juste après le 10e appel, puis juste après la sauvegarde d'une adresse sans
    fiche : code 2, « shutdown », récapitulatif « arrêt demandé », fichier trié et valide,
    état sauvegardé ; la relance ordinaire termine l'export, exact."""
    sandbox = sandbox_factory(seed=11, conversations=250, latency_ms=LATENCY * 1000)
    truth = PeopleTruth(sandbox, data_dir)
    progress = []
    for trigger in (Calls(10, after=LATENCY + 0.01), FileChanged(STATE, "de l'état", nth=2)):
        outcome = interrupt("users", sandbox, data_dir, trigger, FOLDER, sig=signal.SIGTERM,
                            args=ARGS, settings=LOW_CONCURRENCY)
        summary = assert_clean_stop(outcome, "users", max_seconds=15)
        inspection = inspect_users(data_dir, truth)
        assert not inspection.problems, (outcome.description, inspection.problems)
        assert inspection.snapshot.fragment is None and inspection.state is not None
        assert inspection.keys == sorted(inspection.keys)  # tri final fait
        assert not temp_files(data_dir / FOLDER)
        assert f"contient désormais {len(inspection.keys)} profils" in summary
        assert 0 < len(inspection.keys) < len(truth.profiles)
        progress.append(len(inspection.keys))
    assert progress[1] > progress[0], progress
    final = crawl(sandbox, data_dir, settings=LOW_CONCURRENCY)
    assert final.returncode == 0, final.log[-3000:]
    assert_exact_truth(data_dir, truth)


# --- Pannes -----------------------------------------------------------------------------------------
def _accounted(stats: dict) -> int:
    """Issues de toutes les requêtes envoyées : réponse exploitable (profil reçu ou 404,
    chacune devient un item), réessai, ralentissement, quota, échec définitif."""
    return (stats.get("item_scraped_count", 0)
            + stats.get("retry/count", 0) + stats.get("crisp_throttle/throttled", 0)
            + stats.get("crisp_api/status/423", 0) + stats.get("crisp_api/failed", 0))


def test_5xx_429_truncated_and_resets_combined(sandbox_factory, data_dir):
    """5xx (10 %), rafales de 429 (JSON et HTML, concurrence par défaut), corps tronqués et
    coupures de connexion, tous à la fois. Relances jusqu'à la fin (une adresse en échec
    après tous les réessais est permise, comptée et reprise). Aucun profil perdu ni
    téléchargé deux fois : le bac à sable n'a servi que les réponses nécessaires."""
    sandbox = sandbox_factory(seed=21, conversations=250)
    truth = PeopleTruth(sandbox, data_dir)
    reset_sandbox(sandbox, error_rate=0.1, rate_limit=25, non_json_429_ratio=0.5,
                  truncated_ratio=0.1, reset_ratio=0.1)
    runs = []
    for _ in range(4):
        result = crawl(sandbox, data_dir, settings=FAST)
        runs.append(result)
        assert result.stats["crisp_api/requests"] == _accounted(result.stats)
        inspection = inspect_users(data_dir, truth)
        assert not inspection.problems, inspection.problems
        if result.returncode == 0:
            break
        assert result.returncode == 1 and result.stats["crisp_api/failed"] >= 1, result.log[-3000:]
        assert "Ressources en échec après réessais" in summary_block(result.log)
    assert runs[-1].returncode == 0, runs[-1].log[-3000:]
    assert runs[-1].reason == "finished"
    assert_exact_truth(data_dir, truth)
    seen = statuses(sandbox)
    truncated = sum(retry_reasons(r.stats).get("invalid_json", 0) for r in runs)
    throttled = sum(r.stats.get("crisp_throttle/throttled", 0) for r in runs)
    server_errors = sum(seen.get(code, 0) for code in ("500", "502", "503"))
    # Toutes les pannes ont eu lieu, et les statistiques les comptent.
    assert truncated >= 1 and throttled >= 2 and server_errors >= 1 and seen.get("reset", 0) >= 1, \
        (seen, [r.stats for r in runs])
    assert throttled == seen.get("429", 0)
    assert server_errors == sum(r.stats.get(f"crisp_api/status/{c}", 0)
                                for r in runs for c in ("500", "502", "503"))
    # Chaque profil servi une fois, plus les réponses tronquées (réessayées) ; chaque
    # adresse sans fiche a reçu un seul 404.
    assert seen["200"] == len(truth.profiles) + truncated
    assert seen["404"] == len(truth.no_profile)
    summary = summary_block(runs[0].log)
    assert f"dont ralentis (429/420) : {runs[0].stats['crisp_throttle/throttled']}," in summary


def test_quota_mid_run_stops_cleanly_and_the_next_run_finishes(sandbox_factory, data_dir):
    """Quota 423 après 40 appels (concurrence par défaut) : arrêt propre, code 2, fichier
    trié et valide, adresses sans fiche déjà vues retenues ; le lendemain, la relance
    termine sans redemander aucun profil déjà reçu ni aucune adresse sans fiche."""
    sandbox = sandbox_factory(seed=22, conversations=250)
    truth = PeopleTruth(sandbox, data_dir)
    reset_sandbox(sandbox, quota=40)
    first = crawl(sandbox, data_dir, settings=FAST)
    assert first.returncode == 2, first.log[-3000:]
    assert first.reason == "quota"
    assert first.stats["crisp_throttle/quota_exceeded"] == 1
    assert first.stats["crisp_api/status/423"] >= 1
    assert "Fin : quota atteint, arrêt prévu, reprise au prochain lancement" in summary_block(first.log)
    assert first.stats["crisp_api/requests"] == _accounted(first.stats)
    inspection = inspect_users(data_dir, truth)
    assert not inspection.problems, inspection.problems
    assert inspection.keys == sorted(inspection.keys)
    assert 0 < len(inspection.keys) < len(truth.profiles)
    before = statuses(sandbox)
    assert len(inspection.keys) == before.get("200", 0)  # chaque profil reçu est gardé
    assert len(inspection.state["not_found"]) == before.get("404", 0)  # chaque 404 retenu

    sandbox.admin("/_admin/quota/reset", method="POST")
    sandbox.admin("/_admin/faults", method="POST", json={"quota": 0})
    second = crawl(sandbox, data_dir, settings=FAST)
    assert second.returncode == 0, second.log[-3000:]
    assert_exact_truth(data_dir, truth)
    seen = statuses(sandbox)
    assert seen["200"] == len(truth.profiles)
    assert seen["404"] == len(truth.no_profile)
    assert second.stats["users/ignored_not_found_known"] == before.get("404", 0)
