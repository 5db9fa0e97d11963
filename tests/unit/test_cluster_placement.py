"""Répartition des sites sur les nœuds scrapyd (crispscrape/cluster/placement.py) : logique pure."""

from __future__ import annotations

import uuid

from crispscrape.cluster.nodes import ScrapydNode
from crispscrape.cluster.placement import (
    busy_websites, new_job_id, place, preference, website_of_job,
)

SITES = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"site-{index}")) for index in range(12)]
A, B, C = "http://a:6800", "http://b:6800", "http://c:6800"


def test_job_id_names_the_website_and_is_read_back():
    job = new_job_id(SITES[0])
    assert job.startswith(SITES[0] + "_") and job != new_job_id(SITES[0])
    assert website_of_job({"id": job}) == SITES[0]  # job en cours : pas d'arguments montrés
    assert website_of_job({"id": "x", "args": {"website": SITES[1].upper()}}) == SITES[1]
    assert website_of_job({"id": "5f328eece58311f1a99b02fc00000001"}) is None
    assert website_of_job({"id": f"../{SITES[0]}_0123456789ab"}) is None


def test_busy_websites_are_read_from_every_node_pending_and_running():
    listings = {
        A: {"running": [{"id": new_job_id(SITES[0])}], "pending": [],
            "finished": [{"id": new_job_id(SITES[3])}]},
        B: {"running": [], "pending": [{"id": "abc", "args": {"website": SITES[1]}}]},
    }
    busy = busy_websites(listings)
    assert set(busy) == {SITES[0], SITES[1]}  # un job terminé ne compte pas
    assert (busy[SITES[0]].node, busy[SITES[0]].state) == (A, "running")
    assert (busy[SITES[1]].node, busy[SITES[1]].state, busy[SITES[1]].job) == (B, "pending", "abc")


def test_placement_is_balanced_and_complete():
    placed = place(SITES, {A: 0, B: 0, C: 0})
    assert sorted(placed) == sorted(SITES)
    assert sorted(list(placed.values()).count(node) for node in (A, B, C)) == [4, 4, 4]
    four = place(SITES[:4], {A: 0, B: 0})
    assert sorted(list(four.values()).count(node) for node in (A, B)) == [2, 2]


def test_placement_counts_jobs_already_on_each_node():
    placed = place(SITES[:4], {A: 4, B: 0})
    assert set(placed.values()) == {B}
    assert place(SITES[:3], {}) == {}


def test_a_site_keeps_its_node_and_only_the_sites_of_a_lost_node_move():
    everything = place(SITES, {A: 0, B: 0, C: 0})
    assert place(SITES, {A: 0, B: 0, C: 0}) == everything  # stable d'une exécution à l'autre
    without_c = place(SITES, {A: 0, B: 0})
    assert set(without_c.values()) == {A, B}
    moved = [site for site in SITES if everything[site] != C and without_c[site] != everything[site]]
    # Les sites de A et B ne bougent que pour rééquilibrer, jamais tous.
    assert len(moved) < len([site for site in SITES if everything[site] != C])
    assert preference(SITES[0], [A, B, C]) == preference(SITES[0], [C, B, A])


def test_node_url_credentials_go_to_a_header_and_never_to_its_name():
    node = ScrapydNode("http://admin:s%40cret@127.0.0.1:6800/")
    assert node.name == "http://127.0.0.1:6800" and "cret" not in repr(node)
    assert node._auth == "Basic YWRtaW46c0BjcmV0"
