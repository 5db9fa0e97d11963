"""``scrapy status`` : où en est le compte, d'après les fichiers seuls.

Même bilan que ``scrapy crawl account -a dry_run=1`` : aucun appel à l'API, aucun
identifiant nécessaire, rien n'est écrit. Code de sortie 0.
"""

from __future__ import annotations

from scrapy.commands import ScrapyCommand

from crispscrape.config import data_dir_of
from crispscrape.status import AccountStatus


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def short_desc(self) -> str:
        return "Où en est le compte Crisp exporté (fichiers seuls, aucun appel)"

    def run(self, args, opts) -> None:
        settings = self.settings
        status = AccountStatus.from_settings(data_dir_of(settings), settings)
        lines = status.lines(None)
        print("\n".join(lines))
        print("Fin : " + ("compte complet et à jour." if status.complete
                          else f"il reste {status.remaining_text()}."))
