"""Preuve sous le feu, export des conversations : arrêts brutaux, arrêts propres, pannes de l'API.

Chaque recette lance de vrais ``scrapy crawl conversations`` contre le vrai bac à sable.
Les moments d'arrêt sont observés de l'extérieur (compteurs d'appels du bac à sable,
fichiers du répertoire de données), sans aucun crochet dans le code de production.

Invariants vérifiés après CHAQUE arrêt (``inspect_conversations``) :
- toute ligne complète est du JSON lisible, l'objet exact d'une conversation du bac à
  sable (sa version actuelle, ou une version antérieure s'il a reçu un message depuis) ;
- aucun session_id en double ;
- l'état est un objet JSON valide, et il n'est jamais en avance sur le fichier : toute
  conversation d'origine située avant la page de reprise (décalages des insertions et
  des réveils déduits) est déjà dans le fichier ;
- seule la dernière ligne peut être coupée (ajout interrompu) : non réparée par la
  relance, elle deviendrait une ligne illisible au milieu du fichier, signalée ici.

À la fin, des relances ordinaires doivent donner exactement la vérité du bac à sable :
chaque conversation une fois, objets identiques, fichier trié (active.last décroissant,
puis session_id croissant), état complet.
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
    Calls,
    Interrupted,
    Kill,
    assert_clean_stop,
    assert_every_kill_fired,
    assert_no_abandoned_temp_files,
    interrupt,
    kill_problems,
    summary_block,
    temp_files,
)

FOLDER = "conversations"
DATA = f"{FOLDER}/conversations.jsonl"
STATE = f"{FOLDER}/conversations.jsonl.state.json"
PER_PAGE = 20
# Ces épreuves ont été écrites pour des pages de 20 (plus de pages, plus de dérive) ; le
# défaut du produit est 50 depuis (moins d'appels).
SPEC_PAGE = {"CRISP_CONVERSATIONS_PER_PAGE": PER_PAGE}
LATENCY = 0.1  # secondes par appel dans les chaînes d'arrêts : pages bien espacées


def sort_key(conversation: dict):
    """Ordre documenté du fichier : active.last décroissant, puis session_id croissant."""
    return -conversation["active"]["last"], conversation["session_id"]


# --- Vérité du bac à sable et invariants ----------------------------------------------------
class ListingTruth:
    """Vérité des conversations, insertions (nouvelles en tête) et réveils (un message
    de plus : la conversation remonte en tête) faits pendant la recette."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.current: list[dict] = []
        self.versions: dict[str, set[str]] = {}
        self.refresh()
        self.base = [c["session_id"] for c in self.current]  # ordre de départ
        self.inserted = 0
        self.woken: set[str] = set()

    def refresh(self) -> None:
        self.current = self.sandbox.admin("/_admin/truth/conversations")
        for conversation in self.current:
            self.versions.setdefault(conversation["session_id"], set()).add(canonical(conversation))

    def insert(self, count: int) -> None:
        self.sandbox.admin("/_admin/conversations", method="POST", json={"count": count})
        self.inserted += count
        self.refresh()

    def wake(self, session_id: str) -> None:
        self.sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                           json={"count": 1})
        self.woken.add(session_id)
        self.refresh()


@dataclass
class Inspection(ListingInspection):
    ids: list[str] = field(default_factory=list)

    def base_present(self, truth: ListingTruth) -> int:
        present = set(self.ids)
        return sum(1 for session_id in truth.base if session_id in present)


def inspect_conversations(data_dir: Path, truth: ListingTruth) -> Inspection:
    """Vérifie les invariants du fichier et de l'état, à n'importe quel moment."""
    found = start_inspection(Inspection, data_dir, DATA, STATE)
    state = found.state
    for number, conversation in enumerate(found.snapshot.objects, start=1):
        session_id = conversation.get("session_id") if isinstance(conversation, dict) else None
        if canonical(conversation) not in truth.versions.get(session_id, ()):
            found.problems.append(f"ligne {number} : objet qui n'est aucune version de {session_id!r}")
        found.ids.append(session_id)
    if len(set(found.ids)) != len(found.ids):
        found.problems.append("session_id en double")
    if state is None:
        return found
    page, per_page = state.get("page_number"), state.get("per_page")
    watermark, complete = state.get("watermark"), state.get("backfill_complete")
    if state.get("format") != 1 or not isinstance(page, int) or page < 1 \
            or per_page != PER_PAGE or not isinstance(complete, bool) \
            or not (watermark is None or isinstance(watermark, int)):
        found.problems.append(f"état inattendu : {state!r}")
        return found
    # Les insertions et les réveils ne font que pousser les conversations d'origine vers
    # le bas : celles d'avant cette borne ont forcément été lues avant la page notée.
    covered = len(truth.base) if complete else \
        (page - 1) * per_page - truth.inserted - len(truth.woken)
    present = set(found.ids)
    missing = [s for s in truth.base[:max(0, covered)]
               if s not in truth.woken and s not in present]
    if missing:
        found.problems.append(f"état en avance sur le fichier (page {page}, complet={complete}) : "
                              f"{len(missing)} conversations notées lues mais absentes")
    return found


def assert_exact_truth(data_dir: Path, truth: ListingTruth) -> None:
    truth.refresh()
    got = read_jsonl(data_dir / DATA)
    assert sorted(map(canonical, got)) == sorted(map(canonical, truth.current)), \
        "les conversations du fichier ne sont pas exactement celles de la vérité"
    assert [sort_key(c) for c in got] == sorted(sort_key(c) for c in got), "fichier mal trié"
    assert got == truth.current  # chaque conversation une fois, à jour, dans l'ordre du bac à sable
    state = json.loads((data_dir / STATE).read_text(encoding="utf-8"))
    assert state["backfill_complete"] is True


def crawl(sandbox, data_dir, settings=None, args=None) -> CrawlResult:
    return run_crawl("conversations", data_dir, sandbox.env(), args=args,
                     settings={**SPEC_PAGE, **(settings or {})})


# --- SIGKILL à de nombreux moments ------------------------------------------------------------
@dataclass
class Chain:
    kills: list[Kill]
    final: CrawlResult
    again: CrawlResult
    again_calls: int
    bytes_before_again: bytes
    truth: ListingTruth
    data_dir: Path


def _kill_plan(rng: random.Random):
    """(préparation, moment) pour chaque arrêt ; délais tirés de la graine.

    Préparations entre deux exécutions : nouvelles conversations en tête (les pages
    glissent), réveil d'une conversation déjà exportée (elle doit être remplacée, par une
    réécriture atomique du fichier). Chaque relance commence par le balayage du haut
    (page 1, puis sauvegarde de l'état au saut vers le rattrapage) : les rangs « n-ième
    changement » visent les pages du rattrapage, pour que l'export progresse.
    """
    def jitter():
        return round(LATENCY + rng.uniform(0.0, 0.03), 3)

    page_added = "du fichier des conversations (ajout d'une page)"
    state_saved = "de l'état (sauvegarde toute fraîche)"
    return [
        (None, Calls(1)),
        (None, Calls(3, after=jitter())),
        (None, FileChanged(DATA, page_added)),
        (None, FileChanged(STATE, state_saved, nth=3)),
        (None, TempFile(FOLDER, "conversations.jsonl.state.json", "de l'état", nth=2)),
        (("insert", 7), Calls(4)),
        (None, Calls(6, after=jitter())),
        (("wake", None), TempFile(FOLDER, "conversations.jsonl",
                                  "du fichier (conversation mise à jour)")),
        (None, FileChanged(DATA, page_added, after=0.002, nth=2)),
        (None, FileChanged(STATE, state_saved, after=round(rng.uniform(0.001, 0.02), 4), nth=2)),
        (None, Calls(7, after=jitter())),
        (("insert", 3), TempFile(FOLDER, "conversations.jsonl", "du fichier (tri final)")),
    ]


@pytest.fixture(scope="module")
def sigkill_chain(tmp_path_factory):
    """Un export de 400 conversations (20 pages de 20, 100 ms par appel) tué par SIGKILL
    à 12 moments, chaque exécution reprenant la précédente, puis deux relances ordinaires."""
    sandbox = start_sandbox(seed=11, conversations=400, latency_ms=LATENCY * 1000)
    try:
        data_dir = tmp_path_factory.mktemp("conversations-sigkill") / "data"
        data_dir.mkdir()
        truth = ListingTruth(sandbox)
        rng = random.Random(20250611)
        kills = []
        for preparation, trigger in _kill_plan(rng):
            if preparation and preparation[0] == "insert":
                truth.insert(preparation[1])
            elif preparation:
                stored = [c["session_id"] for c in read_jsonl(data_dir / DATA)]
                truth.wake(rng.choice(stored[len(stored) // 2:]))
            outcome = interrupt("conversations", sandbox, data_dir, trigger, FOLDER,
                                settings=SPEC_PAGE)
            kills.append(Kill(outcome, inspect_conversations(data_dir, truth)))
        final = crawl(sandbox, data_dir)
        before = (data_dir / DATA).read_bytes()
        sandbox.admin("/_admin/stats/reset", method="POST")
        again = crawl(sandbox, data_dir)
        again_calls = sandbox.admin("/_admin/stats")["by_kind"]["conversations"]
        yield Chain(kills, final, again, again_calls, before, truth, data_dir)
    finally:
        sandbox.stop()


def test_every_kill_point_was_reached_by_a_real_sigkill(sigkill_chain):
    """12 moments distincts, tous atteints avant la fin du crawl : 1er appel en vol ; juste
    après les 3e, 6e et 7e appels (réponse en cours de traitement) ; 4e appel en vol pendant
    la dérive des pages (7 nouvelles en tête) ; dès la première écriture d'un ajout de page,
    et 2 ms après celle du 2e changement ; juste après la 3e sauvegarde de l'état, et
    quelques ms après la 2e ; en pleine écriture atomique de l'état, d'une conversation
    mise à jour, du tri final."""
    kills = sigkill_chain.kills
    assert len(kills) >= 10
    assert len({k.outcome.description for k in kills}) >= 10
    # Un fichier temporaire resté sur place prouve la mort en pleine écriture (avant os.replace).
    left = assert_every_kill_fired(kills)
    assert any(n.startswith(".conversations.jsonl.state.json.") for n in left), left
    assert any(n.startswith(".conversations.jsonl.") and ".state.json." not in n
               for n in left), left
    # Le dernier arrêt vise bien le tri final : le parcours était fini (fin de la liste, ou
    # haut de liste à jour si la relance précédente avait déjà tout parcouru).
    assert "Arrêt du parcours : " in kills[-1].outcome.log


def test_no_kill_leaves_a_corrupt_duplicated_or_inconsistent_export(sigkill_chain):
    problems = kill_problems(sigkill_chain.kills)
    assert not problems, problems
    # Les arrêts se répartissent sur tout l'export : il progresse d'un arrêt à l'autre.
    truth = sigkill_chain.truth
    progress = [k.inspection.base_present(truth) for k in sigkill_chain.kills]
    assert progress == sorted(progress), progress
    assert progress[0] == 0 and progress[-1] == len(truth.base), progress
    assert len(set(progress)) >= 8, progress


def test_plain_reruns_after_the_last_kill_give_the_exact_truth(sigkill_chain):
    final = sigkill_chain.final
    assert final.returncode == 0, final.log[-3000:]
    assert final.reason == "finished"
    assert_exact_truth(sigkill_chain.data_dir, sigkill_chain.truth)
    assert final.stats["conversations/total"] == len(sigkill_chain.truth.current)
    assert "Historique complet" in summary_block(final.log)
    # Encore une relance : une seule page lue, rien ne change (filigrane intact).
    again = sigkill_chain.again
    assert again.returncode == 0, again.log[-3000:]
    assert sigkill_chain.again_calls == 1
    assert (sigkill_chain.data_dir / DATA).read_bytes() == sigkill_chain.bytes_before_again
    assert again.stats.get("conversations/exported", 0) == 0


def test_temporary_files_of_killed_writes_do_not_accumulate(sigkill_chain):
    """Les « .conversations.jsonl.XXXX.tmp » des écritures tuées (une copie complète du
    fichier, ou de l'état) doivent être nettoyés par une exécution suivante : sinon chaque
    arrêt brutal pendant une réécriture en laisse un de plus, indéfiniment."""
    assert_no_abandoned_temp_files(temp_files(sigkill_chain.data_dir / FOLDER))


# --- SIGTERM : arrêt propre ---------------------------------------------------------------------
def _assert_clean_stop(outcome: Interrupted, data_dir: Path, truth: ListingTruth) -> Inspection:
    summary = assert_clean_stop(outcome, "conversations", max_seconds=15)
    inspection = inspect_conversations(data_dir, truth)
    assert not inspection.problems, (outcome.description, inspection.problems)
    # État sauvegardé, et le récapitulatif dit où reprendra le rattrapage.
    assert inspection.state is not None
    if not inspection.state["backfill_complete"]:
        assert (f"le rattrapage reprendra page {inspection.state['page_number']} "
                f"({PER_PAGE} par page)") in summary
    # Arrêt propre : tri final fait, aucun fragment, aucun fichier temporaire.
    assert inspection.snapshot.fragment is None
    stored = inspection.snapshot.objects
    assert [sort_key(c) for c in stored] == sorted(sort_key(c) for c in stored)
    assert not temp_files(data_dir / FOLDER)
    assert f"contient désormais {len(stored)} conversations" in summary
    return inspection


def test_sigterm_at_several_moments_stops_cleanly_then_resumes(sandbox_factory, data_dir):
    """SIGTERM : 1er appel en vol, 3e appel juste reçu, juste après une sauvegarde de
    l'état, pendant la réécriture d'une mise à jour. Chaque arrêt : code 2, « shutdown »,
    récapitulatif « arrêt demandé », état valide ; la relance ordinaire termine."""
    sandbox = sandbox_factory(seed=12, conversations=160, latency_ms=LATENCY * 1000)
    truth = ListingTruth(sandbox)
    progress = []
    for preparation, trigger in [
        (None, Calls(1)),
        (None, Calls(3, after=LATENCY + 0.01)),
        (None, FileChanged(STATE, "de l'état")),
        ("wake", TempFile(FOLDER, "conversations.jsonl", "du fichier (mise à jour)")),
    ]:
        if preparation:
            truth.wake(read_jsonl(data_dir / DATA)[-1]["session_id"])
        outcome = interrupt("conversations", sandbox, data_dir, trigger, FOLDER,
                            sig=signal.SIGTERM, settings=SPEC_PAGE)
        progress.append(_assert_clean_stop(outcome, data_dir, truth).base_present(truth))
    assert progress == sorted(progress) and progress[-1] > progress[0], progress
    final = crawl(sandbox, data_dir)
    assert final.returncode == 0, final.log[-3000:]
    assert_exact_truth(data_dir, truth)


# --- Pannes de l'API, une à la fois ---------------------------------------------------------------
def _check_server_errors(sandbox, result):
    seen = statuses(sandbox)
    errors = {code: seen.get(code, 0) for code in ("500", "502", "503")}
    # 500 en JSON et 502/503 en page HTML (répartiteur de charge) : les deux sortes.
    assert errors["500"] >= 1 and errors["502"] + errors["503"] >= 1, seen
    for code, count in errors.items():
        assert result.stats.get(f"crisp_api/status/{code}", 0) == count
    assert result.stats["retry/count"] == sum(errors.values())
    assert result.stats["conversations/pages"] == seen["200"]


def _check_throttle(code):
    def check(sandbox, result):
        seen = statuses(sandbox)
        assert seen.get(code, 0) >= 2, f"pas de rafale de {code} : {seen}"
        assert result.stats[f"crisp_throttle/status/{code}"] == seen[code]
        assert result.stats["crisp_throttle/throttled"] == seen[code]
        assert result.stats["crisp_throttle/wait_seconds"] > 0
        assert f"dont ralentis (429/420) : {seen[code]}," in summary_block(result.log)
    return check


def _check_timeouts(sandbox, result):
    timeouts = sum(v for k, v in retry_reasons(result.stats).items() if "Timeout" in k)
    assert timeouts >= 1, result.stats
    assert result.stats["crisp_api/requests"] == result.stats["conversations/pages"] + timeouts


def _check_resets(sandbox, result):
    seen = statuses(sandbox)
    calls = sandbox.admin("/_admin/stats")["calls"]
    assert seen.get("reset", 0) >= 1, seen
    # Une connexion réutilisée coupée est renvoyée d'office par Twisted (appel de plus au
    # bac à sable, pas de nouvelle requête Scrapy) ; les autres coupures sont des échecs
    # de téléchargement réessayés. Chaque coupure est l'une ou l'autre.
    visible = sum(v for k, v in result.stats.items() if k.startswith("downloader/exception_type_count/"))
    assert visible >= 1, result.stats
    assert seen["reset"] == (calls - result.stats["crisp_api/requests"]) + visible
    assert result.stats.get("retry/count", 0) == visible


def _check_bad_bodies(reason):
    def check(sandbox, result):
        seen = statuses(sandbox)
        retried = retry_reasons(result.stats).get(reason, 0)
        assert retried >= 1, result.stats
        # Chaque réponse 200 a été soit une page enregistrée, soit réessayée pour ce motif.
        assert seen == {"200": result.stats["conversations/pages"] + retried}
        assert result.stats["retry/count"] == retried
    return check


# Refus de débit : la limite (8 appels/s) n'en donne que si le client va plus vite, ce
# qu'une machine chargée (tests en parallèle) ne fait pas toujours ; des refus tirés au
# hasard, du même code, en donnent quel que soit le rythme.
THROTTLE = {"rate_limit": 8, "throttle_ratio": 0.25}

ALONE = {
    "5xx-10%": ({"error_rate": 0.1}, {}, _check_server_errors),
    "429-json": ({**THROTTLE, "throttle_status": 429, "non_json_429_ratio": 0}, {},
                 _check_throttle("429")),
    "429-html": ({**THROTTLE, "throttle_status": 429, "non_json_429_ratio": 1}, {},
                 _check_throttle("429")),
    "420": ({**THROTTLE, "throttle_status": 420, "rate_limit_status": 420}, {},
            _check_throttle("420")),
    "latency-spike": ({"latency_spike_ms": 1500, "latency_spike_ratio": 0.15},
                      {"DOWNLOAD_TIMEOUT": 0.5}, _check_timeouts),
    "connection-reset": ({"reset_ratio": 0.3}, {}, _check_resets),
    "truncated-json": ({"truncated_ratio": 0.2}, {}, _check_bad_bodies("invalid_json")),
    "error-envelope-200": ({"error_envelope_ratio": 0.2}, {}, _check_bad_bodies("error_envelope")),
    "wrong-data-type": ({"wrong_type_ratio": 0.2}, {}, _check_bad_bodies("invalid_data")),
}


@pytest.mark.parametrize("kind", list(ALONE))
def test_single_fault_kind_export_is_complete_and_reported(sandbox_factory, data_dir, kind):
    """Une seule sorte de panne, sur un export complet de 300 conversations (16 appels sans
    panne) : export exact, aucun échec, et les statistiques comptent chaque panne.

    Un bac à sable neuf par cas : ses tirages (graine fixe) ne dépendent pas des autres
    cas, et les pages étant demandées une à une, chaque cas est reproductible.
    """
    faults, settings, check = ALONE[kind]
    sandbox = sandbox_factory(seed=24, conversations=300)
    reset_sandbox(sandbox, **faults)
    result = crawl(sandbox, data_dir, settings={**FAST, **settings})
    assert result.returncode == 0, result.log[-3000:]
    assert result.reason == "finished"
    assert "crisp_api/failed" not in result.stats
    truth = ListingTruth(sandbox)
    assert_exact_truth(data_dir, truth)
    assert result.stats["conversations/exported"] == len(truth.current)
    summary = summary_block(result.log)
    assert f"Appels à l'API : {result.stats['crisp_api/requests']}," in summary
    assert "Conversations listées" in summary and "(historique complet)" in summary
    assert "Fin : exécution terminée ; il reste" in summary  # messages et profils à faire
    check(sandbox, result)


# --- Toutes les pannes à la fois, quota en cours de route, dérive des pages -----------------------
COMBINED = {
    "error_rate": 0.1, "rate_limit": 15, "non_json_429_ratio": 0.5, "reset_ratio": 0.06,
    "truncated_ratio": 0.1, "error_envelope_ratio": 0.1, "wrong_type_ratio": 0.1,
    "latency_spike_ms": 1200, "latency_spike_ratio": 0.06,
}


def _accounted(stats: dict) -> int:
    """Issues de toutes les requêtes envoyées, d'après les statistiques : page enregistrée,
    réessai (5xx, réseau, délai, corps inexploitable), ralentissement, quota, échec."""
    return (stats.get("conversations/pages", 0) + stats.get("retry/count", 0)
            + stats.get("crisp_throttle/throttled", 0) + stats.get("crisp_api/status/423", 0)
            + stats.get("crisp_api/failed", 0))


def test_all_faults_combined_with_quota_and_page_drift(sandbox_factory, data_dir):
    """5xx, 429 (JSON et HTML), coupures, corps tronqués, enveloppes d'erreur, mauvais type
    et pics de latence au-delà de DOWNLOAD_TIMEOUT, tous à la fois, sur 1 500 conversations ;
    le quota tombe en cours de route (arrêt propre, code 2) ; au « lendemain », de nouvelles
    conversations sont arrivées et une ancienne s'est réveillée. Les relances ordinaires
    finissent l'export, exact ; chaque requête envoyée a une issue comptée dans les
    statistiques.

    Issues permises pour chaque exécution, et seulement elles : quota (2), une page en échec
    après tous les réessais, comptée, signalée et reprise à la relance suivante (1), fin (0).
    """
    sandbox = sandbox_factory(seed=17, conversations=1500)
    truth = ListingTruth(sandbox)
    settings = {**FAST, "DOWNLOAD_TIMEOUT": 0.6}
    # nb au-delà de la taille de la liste : seules les pannes et le quota arrêtent l'export.
    args = {"nb": 5000}
    reset_sandbox(sandbox, **COMBINED, quota=25)
    runs, observed = [], {}
    for _ in range(6):
        result = crawl(sandbox, data_dir, settings=settings, args=args)
        runs.append(result)
        assert result.stats["crisp_api/requests"] == _accounted(result.stats)
        inspection = inspect_conversations(data_dir, truth)
        assert not inspection.problems, inspection.problems
        summary = summary_block(result.log)
        if result.returncode == 0:
            break
        if result.returncode == 2:
            assert result.reason == "quota", result.log[-3000:]
            assert result.stats["crisp_throttle/quota_exceeded"] == 1
            assert result.stats["crisp_api/status/423"] >= 1
            assert "Fin : quota atteint, arrêt prévu, reprise au prochain lancement" in summary
            assert 0 < len(inspection.ids) < len(truth.base)
            # Le lendemain : quota levé, pannes toujours là, la liste a bougé.
            truth.insert(9)
            truth.wake(inspection.ids[len(inspection.ids) // 2])
            sandbox.admin("/_admin/faults", method="POST", json={"quota": 0})
            continue
        assert result.returncode == 1 and result.stats["crisp_api/failed"] >= 1, result.log[-3000:]
        assert "Ressources en échec après réessais" in summary
    assert [r.reason for r in runs].count("quota") == 1, [r.reason for r in runs]
    assert runs[-1].returncode == 0, runs[-1].log[-3000:]
    assert_exact_truth(data_dir, truth)
    assert sum(r.stats.get("conversations/updated", 0) for r in runs) >= 1
    # Toutes les sortes de pannes ont bien eu lieu, et les statistiques les nomment.
    for result in runs:
        for reason, count in retry_reasons(result.stats).items():
            observed[reason] = observed.get(reason, 0) + count
        observed["throttled"] = observed.get("throttled", 0) + \
            result.stats.get("crisp_throttle/throttled", 0)
    kinds = {
        "5xx": [r for r in observed if r[:3] in ("500", "502", "503")],
        "délai dépassé": [r for r in observed if "Timeout" in r],
        "corps tronqué": [r for r in observed if r == "invalid_json"],
        "enveloppe d'erreur": [r for r in observed if r == "error_envelope"],
        "mauvais type": [r for r in observed if r == "invalid_data"],
        "429/420": ["throttled"] if observed.get("throttled") else [],
    }
    absent = [kind for kind, reasons in kinds.items() if not reasons]
    assert not absent, (absent, observed)
    assert statuses(sandbox).get("reset", 0) >= 1, statuses(sandbox)
