"""Parcours de la liste des conversations (``CrispListWalk``, ``plan_walk``), sans réseau ni araignée.

Pages écrites à la main (3 conversations par page, ``active.last`` décroissant comme dans la
liste de l'API), passées au vrai pipeline et au vrai magasin dans ``tmp_path``, puis au
parcours comme le fait l'araignée (position enregistrée par le pipeline) ; les attentes
viennent de docs/conversations.md (« Pourquoi aucune conversation n'est perdue ni dupliquée »).
"""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import pytest
from scrapy.settings import Settings
from scrapy.signalmanager import SignalManager
from scrapy.statscollectors import MemoryStatsCollector

from crispscrape.items import ConversationsPage
from crispscrape.pipelines.conversations import ConversationsPipeline
from crispscrape.storage.conversations import ConversationsStore
from crispscrape.paging.conversations import BACKFILL, CENSUS, SCAN, ListingPosition, census_due, plan_walk
from crispscrape.storage.listing import ListingCursor
from crispscrape.context import ExportContext, publish_context
from crispscrape.sources.crisp import CRISP

PER_PAGE = 3
NOW = 1_800_000_000_000  # l'heure des exécutions (ms), qui date un recensement


def conv(session_id: str, last: int) -> dict:
    """Une conversation telle que la liste la renvoie (activité : active.last, updated_at)."""
    return {"session_id": session_id, "active": {"last": last}, "updated_at": last}


def history(count: int) -> list[dict]:
    """c01 (la plus récente, 9990) ... cNN : activités décroissantes de 10 en 10."""
    return [conv(f"c{i:02d}", 10_000 - 10 * i) for i in range(1, count + 1)]


def on_top(*activities: int) -> list[dict]:
    """Nouvelles conversations n1, n2… arrivées en haut de la liste (au-dessus de 9990)."""
    return [conv(f"n{i}", last) for i, last in enumerate(activities, start=1)]


def page_of(listing: list[dict], page: int) -> list[dict]:
    return listing[(page - 1) * PER_PAGE: page * PER_PAGE]  # au-delà de la fin : page vide


def prepare(data_dir, conversations, **state) -> None:
    """Un export existant, écrit à la main : fichier des conversations et état documenté."""
    root = data_dir / "conversations"
    root.mkdir(parents=True)
    lines = "".join(json.dumps(c) + "\n" for c in conversations)
    (root / "conversations.jsonl").write_text(lines, encoding="utf-8")
    state = json.dumps({"format": 1, "per_page": PER_PAGE, **state})
    (root / "conversations.jsonl.state.json").write_text(state, encoding="utf-8")


class Run:
    """Une exécution de ``scrapy crawl conversations -a nb=…`` dont on donne les pages."""

    def __init__(self, data_dir, nb: int, census: bool = False):
        self.data_dir, self.nb = data_dir, nb
        self.stats = MemoryStatsCollector(SimpleNamespace(settings=Settings()))
        crawler = SimpleNamespace(stats=self.stats, signals=SignalManager())
        # Ce que l'araignée pose dans from_crawler (crispscrape/context.py) : ici, nb seul.
        publish_context(crawler, ExportContext("conversations", CRISP, None, nb=nb))
        self.store = ConversationsStore(data_dir, self.stats, PER_PAGE)
        self.store.open(reset=False)
        self.pipeline = ConversationsPipeline(crawler)
        self.pipeline.store = self.store  # ce que fait open_spider après le pré-vol
        # Ce que fait l'araignée au départ (export_requests).
        self.walk = plan_walk(self.store.position(), len(self.store),
                              self.store.file.newest_at_load, PER_PAGE, census=census,
                              now_ms=NOW)

    def feed(self, page: int, conversations: list[dict]):
        """Une page reçue, enregistrée par le pipeline, puis la suite décidée comme dans
        ``ConversationsSpider.page_saved`` : le bilan, complété du parcours (mode pendant la
        page, page suivante, raison d'arrêt)."""
        exported = self.stats.get_value("conversations/exported", 0)
        item = ConversationsPage(page, list(conversations), limit=max(0, self.nb - exported))
        mode = self.walk.mode
        outcome = self.pipeline.process_item(item).outcome
        exported = self.stats.get_value("conversations/exported", 0)
        next_page, changed = self.walk.advance(outcome, budget_left=self.nb - exported)
        if changed:
            self.pipeline.save_position(replace(self.walk.position))
        return SimpleNamespace(**vars(outcome), mode=mode, next_page=next_page,
                               stop_reason=self.walk.stop_reason)

    def walk_through(self, listing: list[dict]) -> list:
        """Suit les décisions du parcours jusqu'à l'arrêt : [(page, bilan), …]."""
        pages, page = [], self.walk.page
        while page is not None:
            assert len(pages) < 20, "le parcours ne s'arrête pas"
            outcome = self.feed(page, page_of(listing, page))
            pages.append((page, outcome))
            page = outcome.next_page
        return pages

    def close(self) -> None:
        self.store.close()  # rend aussi le verrou, pour l'exécution suivante

    def state(self) -> dict:
        return json.loads((self.data_dir / "conversations" / "conversations.jsonl.state.json").read_text())

    def stored(self) -> dict[str, int]:
        """session_id -> activité, d'après le fichier ; chaque session_id une seule fois."""
        path = self.data_dir / "conversations" / "conversations.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert len({c["session_id"] for c in rows}) == len(rows), "doublons dans le fichier"
        return {c["session_id"]: c["active"]["last"] for c in rows}


@pytest.fixture
def start(tmp_path):
    """Lance une exécution ; la précédente est refermée d'abord (verrou du répertoire)."""
    runs: list[Run] = []

    def close_all():
        for run in (r for r in runs if r.store.dir_lock.held):
            run.close()

    def factory(nb: int = 400, census: bool = False) -> Run:
        close_all()
        runs.append(Run(tmp_path, nb, census))
        return runs[-1]

    yield factory
    close_all()


def summary(pages) -> list[tuple]:
    return [(page, o.mode, o.new, o.updated, o.present) for page, o in pages]


# --- Première exécution, compte à jour, arrivées en haut ------------------------------------
def test_first_run_walks_the_history_until_an_empty_page(start, tmp_path):
    run = start()
    pages = run.walk_through(history(7))
    # Fichier vide : pas de balayage du haut ; une page courte (page 3) ne finit pas la liste.
    assert summary(pages) == [(1, BACKFILL, 3, 0, 0), (2, BACKFILL, 3, 0, 0),
                              (3, BACKFILL, 1, 0, 0), (4, BACKFILL, 0, 0, 0)]
    assert "historique complet" in pages[-1][1].stop_reason
    run.close()
    assert run.state()["backfill_complete"] is True
    assert run.state()["page_number"] == 4  # la prochaine page de l'historique
    assert run.state()["watermark"] == 9990  # le haut de la liste, tout exporté
    assert sorted(run.stored()) == [f"c0{i}" for i in range(1, 8)]


def test_up_to_date_account_costs_a_single_page(start, tmp_path):
    prepare(tmp_path, history(7), page_number=4, backfill_complete=True, watermark=9990)
    run = start()
    pages = run.walk_through(history(7))
    assert summary(pages) == [(1, SCAN, 0, 0, 3)]
    assert "à jour" in pages[0][1].stop_reason
    assert run.stats.get_value("conversations/exported", 0) == 0
    assert run.state()["watermark"] == 9990 and run.state()["backfill_complete"] is True


def test_new_and_revived_conversations_on_top_are_found_by_the_top_sweep(start, tmp_path):
    prepare(tmp_path, history(7), page_number=4, backfill_complete=True, watermark=9990)
    revived = conv("c05", 10_005)  # c05 (9950) a reçu un message : elle remonte en page 1
    listing = [*on_top(10_020, 10_010), revived,
               *[c for c in history(7) if c["session_id"] != "c05"]]
    # nb=3 : la mise à jour ne compte pas dans nb, sinon le balayage s'arrêterait en page 1.
    run = start(nb=3)
    pages = run.walk_through(listing)
    assert summary(pages) == [(1, SCAN, 2, 1, 0), (2, SCAN, 0, 0, 3)]
    assert "à jour" in pages[-1][1].stop_reason
    run.close()
    # Balayage complet : le filigrane avance jusqu'au haut de cette exécution.
    assert run.state()["watermark"] == 10_020
    stored = run.stored()
    assert len(stored) == 9 and stored["c05"] == 10_005  # remplacée, toujours unique


def test_a_revived_conversation_alone_keeps_the_sweep_going(start, tmp_path):
    prepare(tmp_path, history(7), page_number=4, backfill_complete=True, watermark=9990)
    listing = [conv("c05", 10_005), *[c for c in history(7) if c["session_id"] != "c05"]]
    pages = start().walk_through(listing)
    # Une mise à jour est une nouveauté : la page 1 ne clôt pas le balayage.
    assert summary(pages) == [(1, SCAN, 0, 1, 2), (2, SCAN, 0, 0, 3)]


# --- Dérive des pages et reprise du rattrapage -----------------------------------------------
def test_same_conversation_twice_in_a_page_is_stored_once(start, tmp_path):
    run = start()
    # Dérive pendant la réponse : c02 remonte et apparaît deux fois dans la même page.
    outcome = run.feed(1, [conv("c02", 9995), *history(2)])
    assert (outcome.new, outcome.present) == (2, 1)
    assert run.stored() == {"c02": 9995, "c01": 9990}

def test_conversation_pushed_from_page_3_to_page_4_is_stored_once(start, tmp_path):
    listing = history(10)
    run = start()
    for page in (1, 2, 3):
        assert run.feed(page, page_of(listing, page)).next_page == page + 1
    # Une conversation arrive en haut : c09, dernière de la page 3, ouvre la page 4.
    listing = [*on_top(10_000), *listing]
    assert [c["session_id"] for c in page_of(listing, 4)] == ["c09", "c10"]
    outcome = run.feed(4, page_of(listing, 4))
    assert (outcome.new, outcome.present, outcome.next_page) == (1, 1, 5)
    assert run.feed(5, page_of(listing, 5)).next_page is None
    assert len(run.stored()) == 10 and "n1" not in run.stored()
    # L'exécution suivante la trouve au-dessus du filigrane, sans redemander tout l'historique.
    pages = start().walk_through(listing)
    assert summary(pages) == [(1, SCAN, 1, 0, 2), (2, SCAN, 0, 0, 3)]
    assert len(run.stored()) == 11


def test_backfill_resumes_at_the_page_noted_in_the_state(start, tmp_path):
    prepare(tmp_path, history(6), page_number=3, backfill_complete=False, watermark=9990)
    pages = start().walk_through(history(10))
    # Page 1 sans nouveauté et sous le filigrane : saut direct à la page 3 (page 2 connue).
    assert summary(pages) == [(1, SCAN, 0, 0, 3), (3, BACKFILL, 3, 0, 0),
                              (4, BACKFILL, 1, 0, 0), (5, BACKFILL, 0, 0, 0)]
    assert "historique complet" in pages[-1][1].stop_reason


def test_arrivals_on_top_only_shift_the_backfill_down(start, tmp_path):
    prepare(tmp_path, history(6), page_number=3, backfill_complete=False, watermark=9990)
    run = start()
    pages = run.walk_through([*on_top(10_000), *history(10)])
    # c06 glisse en page 3 : redemandée, ignorée ; aucune autre sautée ni dupliquée.
    assert summary(pages) == [(1, SCAN, 1, 0, 2), (2, SCAN, 0, 0, 3), (3, BACKFILL, 2, 0, 1),
                              (4, BACKFILL, 2, 0, 0), (5, BACKFILL, 0, 0, 0)]
    assert len(run.stored()) == 11


def test_top_sweep_reaching_the_backfill_page_goes_on_as_backfill(start, tmp_path):
    prepare(tmp_path, history(3), page_number=2, backfill_complete=False, watermark=9990)
    run = start()
    pages = run.walk_through([*on_top(10_050, 10_040, 10_030, 10_020, 10_010), *history(5)])
    # La page 2 apporte encore du nouveau : c'est d'avoir atteint la page du rattrapage,
    # pas le filigrane, qui fait passer en rattrapage (le haut est vu, le filigrane avance).
    assert summary(pages) == [(1, SCAN, 3, 0, 0), (2, SCAN, 2, 0, 1), (3, BACKFILL, 1, 0, 2),
                              (4, BACKFILL, 1, 0, 0), (5, BACKFILL, 0, 0, 0)]
    assert run.state()["watermark"] == 10_050


# --- nb atteint ------------------------------------------------------------------------------
def test_nb_reached_at_the_end_of_a_backfill_page_resumes_at_the_next_page(start, tmp_path):
    run = start(nb=3)
    pages = run.walk_through(history(10))
    assert summary(pages) == [(1, BACKFILL, 3, 0, 0)]
    assert "nb" in pages[0][1].stop_reason and "page 2" in pages[0][1].stop_reason
    assert run.state()["page_number"] == 2 and run.state()["backfill_complete"] is False


def test_nb_cutting_a_backfill_page_asks_that_page_again(start, tmp_path):
    run = start(nb=4)
    pages = run.walk_through(history(10))
    assert summary(pages) == [(1, BACKFILL, 3, 0, 0), (2, BACKFILL, 1, 0, 0)]
    assert pages[-1][1].left_over == 2 and "page 2" in pages[-1][1].stop_reason
    assert run.state()["page_number"] == 2  # page 2 coupée : elle sera redemandée
    pages = start().walk_through(history(10))
    assert summary(pages)[:2] == [(1, SCAN, 0, 0, 3), (2, BACKFILL, 2, 0, 1)]
    assert len(run.stored()) == 10


def test_nb_cutting_the_top_sweep_leaves_the_watermark_where_it_was(start, tmp_path):
    prepare(tmp_path, history(7), page_number=4, backfill_complete=True, watermark=9990)
    listing = [*on_top(10_050, 10_040, 10_030, 10_020, 10_010), *history(7)]
    run = start(nb=3)
    pages = run.walk_through(listing)
    assert summary(pages) == [(1, SCAN, 3, 0, 0)]
    assert "balayage du haut" in pages[0][1].stop_reason
    assert run.state()["watermark"] == 9990
    # L'exécution suivante balaie de nouveau jusqu'au filigrane : n4 et n5 ne sont pas sautées.
    pages = start().walk_through(listing)
    assert summary(pages) == [(1, SCAN, 0, 0, 3), (2, SCAN, 2, 0, 1), (3, SCAN, 0, 0, 3)]
    assert {"n4", "n5"} <= set(run.stored())


# --- plan_walk : le premier parcours d'après l'état et le fichier -----------------------------
def cursor_from(tmp_path, **state) -> ListingCursor:
    path = tmp_path / "conversations.jsonl.state.json"
    if state:
        path.write_text(json.dumps(state), encoding="utf-8")
    cursor = ListingCursor(path)
    cursor.load()
    return cursor.position


def test_plan_for_an_empty_file_restarts_from_page_one(tmp_path):
    cursor = cursor_from(tmp_path, format=1, page_number=9, per_page=20,
                         backfill_complete=True, watermark=5000)
    walk = plan_walk(cursor, stored=0, newest=None, per_page=20)
    assert (walk.mode, walk.page, walk.backfill_page) == (BACKFILL, 1, 1)
    assert (cursor.page_number, cursor.backfill_complete, cursor.watermark) == (1, False, None)


def test_plan_without_state_next_to_a_file_walks_the_history_again(tmp_path):
    walk = plan_walk(cursor_from(tmp_path), stored=5, newest=9990, per_page=20)
    assert (walk.mode, walk.page, walk.backfill_page) == (SCAN, 1, 1)


@pytest.mark.parametrize("state, per_page, page", [
    ({"format": 1, "page_number": 3, "per_page": 20}, 20, 3),
    # 40 conversations parcourues : la 41e est en page 2 avec 30 par page, en page 1 avec 50.
    ({"format": 1, "page_number": 3, "per_page": 20}, 30, 2),
    ({"format": 1, "page_number": 3, "per_page": 20}, 50, 1),
    # État de conv.py (sans « format », 20 par page) : reprise une page plus tôt.
    ({"next_page": 3}, 20, 2),
])
def test_plan_converts_the_resume_page(tmp_path, state, per_page, page):
    cursor = cursor_from(tmp_path, **state)
    walk = plan_walk(cursor, stored=40, newest=9990, per_page=per_page)
    assert (walk.mode, walk.backfill_page) == (SCAN, page)
    if "format" not in state:
        # Sans filigrane noté, la conversation la plus récente du fichier en tient lieu.
        assert cursor.watermark == 9990


def test_position_that_cannot_be_saved_stops_the_export_with_the_cause(start, tmp_path):
    """L'état suit la page par le signal listing_advanced ; s'il ne peut être écrit, le
    pipeline arrête l'export (export_stopped) avec la cause en français, page intacte."""
    from crispscrape.signals import export_stopped

    run = start()
    stopped: list[dict] = []
    run.pipeline.crawler.signals.connect(lambda **kw: stopped.append(kw), signal=export_stopped,
                                         weak=False)
    state = tmp_path / "conversations" / "conversations.jsonl.state.json"
    state.mkdir()  # un répertoire à la place du fichier : le remplacement atomique échoue
    outcome = run.feed(1, history(3))
    assert outcome.next_page == 2  # la décision est prise ; l'araignée voit l'arrêt
    assert [s["reason"] for s in stopped] == ["output_error"]
    assert "Impossible d'enregistrer l'état" in stopped[0]["message"]
    assert sorted(run.stored()) == ["c01", "c02", "c03"]


# --- Recensement (issue 21) : la liste entière, sans arrêt précoce ---------------------------
def test_a_page_out_of_order_turns_the_top_sweep_into_a_census(start, tmp_path):
    prepare(tmp_path, history(9), page_number=4, backfill_complete=True, watermark=9990,
            census_at=NOW)
    listing = history(9)
    listing[1], listing[2] = listing[2], listing[1]  # page 1 : 9990, 9970, 9980
    pages = start().walk_through(listing)
    # Sans l'ordre, le balayage ne peut pas s'arrêter à la page 1 : toute la liste est vue.
    assert [(page, mode) for page, mode, *_ in summary(pages)] == [
        (1, SCAN), (2, CENSUS), (3, CENSUS), (4, CENSUS)]
    assert pages[0][1].out_of_order and not pages[1][1].out_of_order
    assert "fin du recensement" in pages[-1][1].stop_reason


def test_a_due_census_follows_a_quiet_top_sweep_to_the_end_of_the_list(start, tmp_path):
    prepare(tmp_path, history(9), page_number=4, backfill_complete=True, watermark=9990,
            census_at=NOW - 10)
    run = start(census=True)
    pages = run.walk_through(history(9))
    assert [(page, mode) for page, mode, *_ in summary(pages)] == [
        (1, SCAN), (2, CENSUS), (3, CENSUS), (4, CENSUS)]
    assert run.walk.census_complete
    run.close()
    state = run.state()
    assert state["census_at"] == NOW and "census_page" not in state
    # Pas dû : le balayage s'arrête à la page 1, comme avant.
    pages = start().walk_through(history(9))
    assert [page for page, *_ in summary(pages)] == [1]


def test_an_interrupted_census_resumes_at_its_page_without_moving_the_watermark(start, tmp_path):
    prepare(tmp_path, history(12), page_number=5, backfill_complete=True, watermark=9990,
            census_at=NOW - 10, census_page=3)
    run = start(census=True)
    pages = run.walk_through(history(12))
    # Page 1 vue, page 2 vue par l'exécution coupée (journal du recensement) : reprise en 3.
    assert [(page, mode) for page, mode, *_ in summary(pages)] == [
        (1, SCAN), (3, CENSUS), (4, CENSUS), (5, CENSUS)]
    assert run.walk.census_complete and not run.walk.contiguous
    run.close()
    assert run.state()["watermark"] == 9990 and "census_page" not in run.state()


def test_an_export_from_before_the_census_starts_its_clock_now(start, tmp_path):
    prepare(tmp_path, history(3), page_number=2, backfill_complete=True, watermark=9990)
    run = start()
    run.walk_through(history(3))
    run.close()
    assert run.state()["census_at"] == NOW


@pytest.mark.parametrize("position, days, forced, due", [
    (dict(census_at=NOW - 7 * 86_400_000), 7, False, True),
    (dict(census_at=NOW - 7 * 86_400_000 + 1), 7, False, False),
    (dict(census_at=NOW - 100 * 86_400_000), 0, False, False),  # 0 = jamais
    (dict(census_at=NOW), 7, True, True),  # -a census=1
    (dict(census_at=NOW, census_page=4), 7, False, True),  # en cours
    (dict(census_at=None), 7, False, False),  # horloge pas encore partie
])
def test_census_due(position, days, forced, due):
    assert census_due(ListingPosition(**position), days, NOW, forced) is due


def test_unlisted_conversations_are_trusted_only_from_a_list_that_is_ours():
    """spiders/removals.unlisted_trusted : une liste sans aucune conversation de l'export
    (autre site, page vide) ou qui en perd plus de la moitié ne fait rien vérifier."""
    import logging

    from crispscrape.spiders.removals import unlisted_trusted

    log = logging.getLogger("test")
    known = {f"c{i}" for i in range(30)}
    assert unlisted_trusted(1, known, known - {"c0"}, log)
    assert not unlisted_trusted(30, known, {"autre"}, log)  # aucune des nôtres
    assert not unlisted_trusted(16, known, {f"c{i}" for i in range(14)}, log)  # plus de moitié
    assert unlisted_trusted(15, known, {f"c{i}" for i in range(15)}, log)
    assert unlisted_trusted(0, set(), {"n1"}, log)  # premier export : rien de connu
