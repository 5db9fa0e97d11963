"""Ce qu'une relecture du direct tient pour supprimé : seulement ce qu'elle a relu.

Relecture d'un fichier incomplet : le premier lot rattrape le haut, puis la pagination saute
sous le plus ancien message du fichier (``next_step``). Les messages entre les deux n'ont
pas été relus : rien n'y est tenu pour supprimé (une relecture d'avant la correction en
supprimait 29 sur 70). Réponses simulées ; l'araignée est la vraie (``LiveSpider``).
"""

from __future__ import annotations

from types import MappingProxyType, SimpleNamespace

from crispscrape.items import Known
from crispscrape.spiders.live import LiveSpider
from crispscrape.spiders.messages import ConversationFetch


def message(stamp: int) -> dict:
    return {"fingerprint": stamp, "timestamp": stamp, "content": f"m{stamp}"}


def spider() -> tuple[LiveSpider, list]:
    said: list = []
    live = LiveSpider.__new__(LiveSpider)
    live.verify = False
    live.journal = SimpleNamespace(unsettled={})
    live._gone, live.erase_due = set(), False
    live.crawler = SimpleNamespace(
        signals=SimpleNamespace(send_catch_log=lambda signal, **kw: said.append(kw)),
        stats=SimpleNamespace(get_value=lambda key: None, inc_value=lambda key: None))
    return live, said


def reread(stored: range, served: list[list[int]], complete_file: bool, start: bool = True) -> list:
    """Les lots ``served`` (horodatages), le dernier en 200 si ``start`` (début de l'historique
    atteint) ; rend ce qui est tenu pour supprimé."""
    live, _ = spider()
    known = Known(True, complete_file, False, min(stored),
                  MappingProxyType({s: message(s) for s in stored}), MappingProxyType({}))
    fetch = ConversationFetch("session_x", None)
    step = None
    for number, stamps in enumerate(served):
        batch = [message(s) for s in sorted(stamps, reverse=True)]
        fetch.seen.update(stamps)
        fetch.reached_start = start and number == len(served) - 1
        step = live.next_step(batch, fetch.reached_start, known, fetch, False)
        if step.next_before is not None:
            fetch.before = step.next_before
    assert step is not None and step.end is not None
    return sorted(live.removed_on_reread(fetch, known, step))


def test_the_jump_under_the_oldest_stored_message_is_not_evidence():
    # Fichier incomplet m1..m70 : m31..m70 relus, saut sous m1, puis m1 (début, 200).
    assert reread(range(1, 71), [list(range(31, 71)), [1]], complete_file=False) == []


def test_a_message_missing_inside_what_was_read_is_removed():
    top = [s for s in range(31, 71) if s != 50]
    assert reread(range(1, 71), [top, [1]], complete_file=False) == [50]


def test_the_whole_history_read_down_to_its_start_is_evidence_everywhere():
    # Tout l'historique en un lot (200) : preuve partout ; fichier complet, lot le plus récent
    # seulement (206, « à jour ») : preuve dans sa plage, rien dessous.
    assert reread(range(1, 11), [[s for s in range(1, 11) if s != 3]], complete_file=True) == [3]
    assert reread(range(1, 71), [[s for s in range(31, 71) if s != 40]], complete_file=True,
                  start=False) == [40]
