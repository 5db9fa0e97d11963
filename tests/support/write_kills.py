"""SIGKILL en pleine écriture atomique, retenté jusqu'à tomber dedans.

Le temporaire d'une écriture atomique ne vit que le temps d'écrire et de fsync le fichier
(quelques millisecondes pour quelques Mo). inotify ne manque pas sa création, mais sur une
machine chargée (``pytest -n 4`` sur deux cœurs) le test peut n'être servi qu'après le
``os.replace`` : le SIGKILL tombe alors après l'écriture, ou le crawl a déjà fini. Le moment
n'est pas atteint : le répertoire ``restored`` est remis tel qu'avant la tentative, et l'arrêt
retenté. Ce que le test vérifie ensuite ne change pas ; seul le moment est retenté.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tests.support.interrupting import Interrupted, TempFileCreated, interrupt

ATTEMPTS = 8


def kill_during_write(spider: str, sandbox, data_dir: Path, trigger: TempFileCreated,
                      watched_dir: str, restored: Path, attempts: int = ATTEMPTS,
                      **options) -> Interrupted:
    """``interrupt`` (SIGKILL) jusqu'à ce qu'un temporaire visé par ``trigger`` reste après
    l'arrêt ; rend la dernière tentative (à l'appelant de vérifier qu'elle a réussi)."""
    saved = Path(tempfile.mkdtemp(prefix="avant-tentative-")) / "copie"
    shutil.copytree(restored, saved, symlinks=True)
    try:
        for attempt in range(attempts):
            outcome = interrupt(spider, sandbox, data_dir, trigger, watched_dir, **options)
            if outcome.fired and any(map(trigger.matches, outcome.temp_left)):
                break
            if attempt + 1 < attempts:
                shutil.rmtree(restored)
                shutil.copytree(saved, restored, symlinks=True)
        return outcome
    finally:
        shutil.rmtree(saved.parent)
