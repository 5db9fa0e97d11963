"""``scrapy cluster`` : l'œuf du projet sur N nœuds scrapyd, et des sites Crisp répartis dessus.

Rien d'autre que scrapyd et son API JSON (voir docs/cluster.md) :

- ``deploy`` : construit l'œuf (comme scrapyd-deploy) et l'envoie à chaque nœud
  (addversion.json) ; un nœud arrêté est signalé et ignoré ;
- ``run`` : un job ``account -a website=ID`` par site (schedule.json), jamais pour un site déjà
  en attente ou en cours sur l'un des nœuds (listjobs.json de tous les nœuds d'abord) ; un
  nœud arrêté (daemonstatus.json) ou sans le projet est ignoré, ses sites vont ailleurs ;
- ``status`` : chaque nœud (en marche, jobs) et chaque site (où il tourne, dernier job fini).

Les identifiants Crisp ne passent jamais par ici : chaque nœud les lit dans son propre
environnement (comme ``CRISP_DATA_DIR``) ; un argument de job serait visible de tous dans
listjobs.json. Code de sortie : 0 si tout est fait, 1 sinon (argument, aucun nœud, site non
placé).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.utils.conf import closest_scrapy_cfg, get_config

from crispscrape.arguments import ArgumentError, parse_optional_count
from crispscrape.cluster.egg import EggError, build_egg
from crispscrape.cluster.nodes import NodeError, ScrapydNode
from crispscrape.cluster.placement import busy_websites, new_job_id, place, website_of_job
from crispscrape.oserrors import os_reason
from crispscrape.website import parse_website

ACTIONS = ("deploy", "run", "status")
SPIDER = "account"


def _split(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if str(item).strip()]
    return [item for item in re.split(r"[\s,]+", str(value or "")) if item]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def websites_of(opts) -> list[str]:
    """Sites de --website et de --websites-file, vérifiés (ArgumentError en français)."""
    websites = [parse_website(value) for value in opts.website]
    if opts.websites_file:
        try:
            lines = Path(opts.websites_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ArgumentError(f"Fichier des sites illisible ({opts.websites_file}) : "
                                f"{os_reason(exc)}.") from None
        for number, line in enumerate(lines, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                websites.append(parse_website(text))
            except ArgumentError as exc:
                raise ArgumentError(f"{opts.websites_file}, ligne {number} : {exc}") from None
    return _unique([website for website in websites if website])


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "deploy|run|status --node URL [--node URL …] [--website ID …] [options]"

    def short_desc(self) -> str:
        return "Déployer sur des nœuds scrapyd et y répartir des sites Crisp"

    def long_desc(self) -> str:
        return ("deploy : envoie l'œuf du projet à chaque nœud scrapyd. run : un job « account » "
                "par site, réparti sur les nœuds en marche, jamais pour un site déjà en attente "
                "ou en cours. status : les nœuds et les sites. Nœuds : --node (répétable), sinon "
                "le réglage ou la variable d'environnement CRISP_CLUSTER_NODES (URL séparées par "
                "des virgules). Les identifiants Crisp restent dans l'environnement des nœuds. "
                "Voir docs/cluster.md.")

    def add_options(self, parser) -> None:
        super().add_options(parser)
        # Les options générales de Scrapy, redites en français (Scrapy crée l'analyseur avec
        # conflict_handler="resolve" : ces déclarations remplacent les siennes).
        general = parser.add_argument_group(title="options générales")
        general.add_argument("-h", "--help", action="help", help="affiche cette aide et sort")
        general.add_argument("--logfile", metavar="FICHIER", help="journal dans ce fichier")
        general.add_argument("-L", "--loglevel", metavar="NIVEAU", default=None,
                             help="niveau du journal (DEBUG, INFO, WARNING…)")
        general.add_argument("--nolog", action="store_true", help="aucun journal")
        general.add_argument("--profile", metavar="FICHIER", default=None,
                             help="profil cProfile écrit dans FICHIER")
        general.add_argument("--pidfile", metavar="FICHIER",
                             help="numéro du processus écrit dans FICHIER")
        general.add_argument("-s", "--set", action="append", default=[], metavar="NOM=VALEUR",
                             help="réglage Scrapy (répétable)")
        general.add_argument("--pdb", action="store_true", help="pdb en cas d'échec")
        group = parser.add_argument_group(title="grappe scrapyd")
        group.add_argument("action", choices=ACTIONS, metavar="deploy|run|status",
                           help="ce qu'il faut faire")
        group.add_argument("--node", action="append", default=[], metavar="URL",
                           help="URL d'un nœud scrapyd, par exemple http://10.0.0.5:6800, "
                                "répétable, sinon le réglage CRISP_CLUSTER_NODES")
        group.add_argument("--website", action="append", default=[], metavar="ID",
                           help="identifiant d'un site Crisp (répétable)")
        group.add_argument("--websites-file", metavar="FICHIER",
                           help="fichier des sites : un identifiant par ligne, # pour commenter")
        group.add_argument("--budget", metavar="N",
                           help="run : budget d'appels de chaque job (-a budget=N)")
        group.add_argument("--version", metavar="VERSION",
                           help="deploy : version de l'œuf (défaut : l'heure, comme "
                                "scrapyd-deploy)")
        group.add_argument("--project", metavar="NOM",
                           help="projet scrapyd (défaut : celui de [deploy] dans scrapy.cfg)")

    # --- Préparation ---------------------------------------------------------------------------
    def nodes(self, opts) -> list[ScrapydNode]:
        assert self.settings is not None
        urls = (opts.node or _split(self.settings.get("CRISP_CLUSTER_NODES"))
                or _split(os.environ.get("CRISP_CLUSTER_NODES")))
        if not urls:
            raise ArgumentError("Aucun nœud scrapyd : donnez --node URL (répétable) ou "
                                "CRISP_CLUSTER_NODES=http://hote1:6800,http://hote2:6800.")
        return [ScrapydNode(url) for url in _unique(urls)]

    @staticmethod
    def project(opts) -> str:
        return opts.project or get_config().get("deploy", "project", fallback="crispscrape")

    def run(self, args, opts) -> None:
        try:
            nodes = self.nodes(opts)
            websites = websites_of(opts)
            budget = parse_optional_count(opts.budget, "budget")
            if opts.action == "run" and not websites:
                raise ArgumentError("Aucun site à répartir : donnez --website ID (répétable) ou "
                                    "--websites-file FICHIER.")
        except (ArgumentError, NodeError) as exc:
            print(f"Erreur : {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        project = self.project(opts)
        if opts.action == "deploy":
            self.exitcode = deploy(nodes, project, opts.version or str(int(time.time())))
        elif opts.action == "run":
            self.exitcode = spread(nodes, project, websites, budget)
        else:
            self.exitcode = show_status(nodes, project, websites)


def deploy(nodes: list[ScrapydNode], project: str, version: str) -> int:
    """L'œuf, construit une fois, sur chaque nœud qui répond."""
    try:
        egg = build_egg(Path(closest_scrapy_cfg()).parent)
    except EggError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 1
    done = 0
    for node in nodes:
        try:
            answer = node.addversion(project, version, egg)
        except NodeError as exc:
            print(f"{node.name} : ignoré, {exc}")
            continue
        done += 1
        print(f"{node.name} : projet {project} version {version} déployé "
              f"({answer.get('spiders', '?')} araignées).")
    print(f"Fin : déployé sur {done} nœud(s) sur {len(nodes)}"
          + ("." if done == len(nodes) else " ; relancez deploy quand les autres répondent."))
    return 0 if done else 1


def survey(nodes: list[ScrapydNode], project: str) -> tuple[dict[str, dict], dict[str, str]]:
    """(nœud -> listjobs.json des nœuds utilisables, nœud -> raison des autres)."""
    listings, problems = {}, {}
    for node in nodes:
        try:
            node.daemonstatus()
            listings[node.name] = node.listjobs(project)
        except NodeError as exc:
            problems[node.name] = str(exc)
    return listings, problems


def spread(nodes: list[ScrapydNode], project: str, websites: list[str],
           budget: int | None) -> int:
    """Un job account par site libre, réparti sur les nœuds utilisables."""
    by_name = {node.name: node for node in nodes}
    listings, problems = survey(nodes, project)
    for why in problems.values():
        print(f"Nœud ignoré : {why}")
    busy = busy_websites(listings)
    waiting = [website for website in websites if website not in busy]
    for website in websites:
        if website in busy:
            job = busy[website]
            state = "en cours" if job.state == "running" else "en attente"
            print(f"{website} : déjà {state} sur {job.node} (job {job.job}), non replanifié.")
    loads = {name: len(listing.get("pending", [])) + len(listing.get("running", []))
             for name, listing in listings.items()}
    scheduled = 0
    arguments = {} if budget is None else {"budget": str(budget)}
    while waiting and loads:
        retry = []
        for website, name in place(waiting, loads).items():
            if name not in loads:  # nœud tombé pendant ce tour : le site attend le suivant
                retry.append(website)
                continue
            try:
                job_id = by_name[name].schedule(project, SPIDER, new_job_id(website),
                                                {**arguments, "website": website})
            except NodeError as exc:
                print(f"Nœud ignoré : {exc}")
                del loads[name]
                retry.append(website)
                continue
            loads[name] += 1
            scheduled += 1
            print(f"{website} : planifié sur {name} (job {job_id}).")
        waiting = retry
    for website in waiting:
        print(f"{website} : non placé, aucun nœud utilisable.")
    already = sum(1 for website in websites if website in busy)
    print(f"Fin : {scheduled} site(s) planifié(s), {already} "
          f"déjà en cours, {len(waiting)} non placé(s) ; nœuds utilisés : {len(loads)} sur "
          f"{len(nodes)}.")
    return 1 if waiting else 0


def show_status(nodes: list[ScrapydNode], project: str, websites: list[str]) -> int:
    """Les nœuds (en marche ou non, jobs du projet) puis chaque site."""
    listings, problems = survey(nodes, project)
    for node in nodes:
        if node.name in problems:
            print(f"{node.name} : inutilisable — {problems[node.name]}")
            continue
        listing = listings[node.name]
        print(f"{node.name} : en marche ; {project} : {len(listing.get('running', []))} en cours, "
              f"{len(listing.get('pending', []))} en attente, "
              f"{len(listing.get('finished', []))} terminé(s).")
    busy = busy_websites(listings)
    last: dict[str, tuple[str, str, str]] = {}
    for name, listing in listings.items():
        for entry in listing.get("finished", []):
            website = website_of_job(entry)
            end = str(entry.get("end_time", ""))
            if website and end >= last.get(website, ("", "", ""))[0]:
                last[website] = (end, name, str(entry.get("log_url", "")))
    for website in websites or sorted(set(busy) | set(last)):
        if website in busy:
            job = busy[website]
            state = "en cours" if job.state == "running" else "en attente"
            print(f"{website} : {state} sur {job.node} (job {job.job}).")
        elif website in last:
            end, name, log = last[website]
            print(f"{website} : dernier job terminé sur {name} à {end} (journal {name}{log}).")
        else:
            print(f"{website} : aucun job connu des nœuds en marche.")
    return 0 if listings else 1
