"""L'âge de la liste des conversations, tel que l'export des messages lancé seul le dit
(spiders/messages.listing_days_old) : c'est la dernière RELÈVE qui compte, pas la dernière
écriture du fichier (une relève sans rien de neuf n'écrit que l'état du parcours)."""

from __future__ import annotations

import os
import time

from crispscrape.spiders.messages import listing_days_old
from crispscrape.storage.layout import ExportLayout


def test_a_quiet_listing_run_refreshes_the_age_through_its_state_file(tmp_path):
    layout = ExportLayout(tmp_path)
    layout.listing_dir.mkdir(parents=True)
    layout.listing.write_text("{}\n", encoding="utf-8")
    now = time.time()
    old = now - 3 * 86400
    os.utime(layout.listing, (old, old))
    assert listing_days_old(layout.listing, now) == 3
    layout.listing_state.write_text("{}", encoding="utf-8")  # relève d'hier, rien de neuf
    yesterday = now - 0.5 * 86400
    os.utime(layout.listing_state, (yesterday, yesterday))
    assert listing_days_old(layout.listing, now) == 0
    assert listing_days_old(tmp_path / "absent.jsonl", now) == 0
