"""``scrapy status`` : où en est le compte, d'après les fichiers seuls.

Même bilan que ``scrapy crawl account -a dry_run=1`` : aucun appel à l'API, aucun
identifiant nécessaire, rien n'est écrit ni créé. Code de sortie 0 (des pièces jointes en
échec n'y changent rien) ; 1 si le site donné est invalide, ou si le répertoire de données
manque ou n'est pas un répertoire (le dire plutôt qu'un compte vide : faute de frappe dans
CRISP_DATA_DIR, ou export jamais fait).

``scrapy status -a website=ID`` (ou ``--website ID``) : le bilan de ce site, lu dans
{CRISP_DATA_DIR}/{ID}, comme l'écrit ``scrapy crawl account -a website=ID``.

Si le direct (``scrapy crawl live``) a tourné, une ligne « Direct : » de plus : événements
appliqués, conversations à régler, état de la connexion, âge du dernier événement journalisé
(crispscrape/live_status.py).
"""

from __future__ import annotations

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.utils.conf import arglist_to_dict

from crispscrape.arguments import ArgumentError
from crispscrape.commands.data_dir import data_dir_problem
from crispscrape.config import data_dir_of
from crispscrape.live_status import LiveStatus
from crispscrape.status import AccountStatus
from crispscrape.website import parse_website


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[-a website=ID | --website ID]"

    def short_desc(self) -> str:
        return "Où en est le compte Crisp exporté (fichiers seuls, aucun appel)"

    def add_options(self, parser) -> None:
        super().add_options(parser)
        parser.add_argument("-a", dest="spargs", action="append", default=[], metavar="NAME=VALUE",
                            help="seul argument accepté : website=ID (site de -a website)")
        parser.add_argument("--website", metavar="ID", help="le site dont on veut l'état")

    def process_options(self, args, opts) -> None:
        super().process_options(args, opts)
        try:
            opts.spargs = arglist_to_dict(opts.spargs)
        except ValueError:
            raise UsageError("Argument invalide : -a NOM=VALEUR est attendu.", print_help=False) from None

    def run(self, args, opts) -> None:
        settings = self.settings
        unknown = sorted(name for name in opts.spargs if name != "website")
        try:
            if unknown:
                raise ArgumentError(f"Argument inconnu : -a {unknown[0]}=… (seul -a website=ID "
                                    "est accepté).")
            website = parse_website(opts.spargs.get("website", opts.website))
        except ArgumentError as exc:
            print(str(exc))
            self.exitcode = 1
            return
        data_dir = data_dir_of(settings, website=website)
        problem = data_dir_problem(data_dir, website)
        if problem is not None:
            print(problem)
            self.exitcode = 1
            return
        status = AccountStatus.from_settings(data_dir, settings)
        lines = status.lines(None)
        live = LiveStatus.read(data_dir)
        if live is not None:
            lines.insert(-1, f"  {live.line()}")
        if website is not None:
            lines.insert(0, f"Site Crisp : {website} (-a website).")
        print("\n".join(lines))
        print(f"Fin : {status.verdict()}.")
