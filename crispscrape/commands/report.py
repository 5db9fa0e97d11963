"""``scrapy report`` : base d'analyse DuckDB, Parquet et rapport HTML, d'après les fichiers seuls.

Aucun appel à l'API, aucun identifiant nécessaire : lit CRISP_DATA_DIR (même résolution que
les exports) et écrit sous ``{CRISP_DATA_DIR}/analyse/`` :

- ``crisp.duckdb``, la base (tables et vues décrites dans docs/analyse.md) ;
- ``parquet/``, les mêmes tables en Parquet (pandas, Polars) ;
- ``rapport.html``, le rapport en français, un seul fichier qui s'ouvre hors ligne.

Chaque sortie est remplacée d'un coup. Une ligne illisible d'un fichier de l'export est
ignorée et comptée, jamais fatale. Code de sortie : 0, ou 1 si rien n'a pu être construit
(aucun export dans le répertoire, disque plein…).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone

from scrapy.commands import ScrapyCommand

from crispscrape.arguments import ArgumentError
from crispscrape.oserrors import os_reason
from crispscrape.config import data_dir_of
from crispscrape.storage.layout import REPORT_NAME
from crispscrape.report.build import DatabaseBuilder
from crispscrape.report.result import BuildResult
from crispscrape.report.figures import read_figures
from crispscrape.report.page import render
from crispscrape.report.sources import ExportState, Sources
from crispscrape.storage.files import atomic_write_lines
from crispscrape.website import parse_website

logger = logging.getLogger(__name__)


def make_report(sources: Sources, settings) -> tuple[BuildResult, str]:
    """Construit la base et les Parquet, puis le rapport ; renvoie le résultat et le chemin
    du rapport."""
    import duckdb

    result = DatabaseBuilder(sources).build()
    state = ExportState.read(sources, settings)
    connection = duckdb.connect(os.fspath(result.database), read_only=True)
    try:
        figures = read_figures(connection, files_indexed=sources.files_index.is_file())
    finally:
        connection.close()
    page = render(figures, state, result.skipped_text(), datetime.now(timezone.utc))
    path = os.fspath(result.database.parent / REPORT_NAME)
    atomic_write_lines(path, [page])
    return result, path


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_LEVEL": "WARNING"}

    def short_desc(self) -> str:
        return ("Base d'analyse DuckDB, Parquet et rapport HTML de l'export (fichiers seuls, "
                "aucun appel)")

    def syntax(self) -> str:
        return "[--website ID]"

    def add_options(self, parser) -> None:
        super().add_options(parser)
        parser.add_argument("--website", metavar="ID",
                            help="le site exporté par -a website=ID ({CRISP_DATA_DIR}/{ID})")

    def run(self, args, opts) -> None:
        try:
            website = parse_website(opts.website)
        except ArgumentError as exc:
            print(exc)
            self.exitcode = 1
            return
        sources = Sources(data_dir_of(self.settings, website=website))
        if not sources.found():
            print(f"Aucun export dans {sources.data_dir} (ni {sources.conversations}, ni fichier "
                  "de messages) : lancez d'abord « scrapy crawl account », ou donnez le bon "
                  "CRISP_DATA_DIR. Rien n'a été écrit.")
            self.exitcode = 1
            return
        try:
            result, report = make_report(sources, self.settings)
        except Exception as exc:  # DuckDB, disque plein, droits : une phrase, pas une trace
            logger.debug("Construction de la base d'analyse", exc_info=True)
            print(f"Construction de la base d'analyse impossible : {os_reason(exc)}. L'ancienne base et "
                  "l'ancien rapport, s'il y en avait, sont intacts.")
            self.exitcode = 1
            return
        rows = result.rows
        print(f"Base d'analyse : {result.database} ({rows['conversations']} conversations, "
              f"{rows['messages']} messages, {rows['people']} profils, {rows['files']} pièces "
              f"jointes) ; Parquet : {result.parquet}{os.sep} ; rapport : {report} ; "
              f"{result.skipped_text()}.")
