"""``scrapy forget`` : répondre à une demande d'effacement (RGPD, art. 17) dans l'export.

``scrapy forget (--email ADRESSE | --people ID | --session ID)… [--website ID] [--dry-run]``

Sur les fichiers seuls : aucun appel à l'API, aucun identifiant nécessaire. Trouve chaque
trace locale de la personne (e-mail, people_id, complétés l'un par l'autre d'un pas par ses
profils et conversations) ou de la conversation, et l'efface (crispscrape/forget/) ; la base
d'analyse est reconstruite si elle existe. Guide : docs/oubli.md.

Ordre, pour qu'un arrêt brutal à tout moment soit repris par la même commande :
1. empreintes SHA-256 des valeurs dans ``oublis.jsonl`` (jamais les valeurs) ;
2. session_id des conversations dans ``suppressions.jsonl`` (policy ``erase``) ;
3. effacement (conversations, la ligne de la liste en dernier, puis la personne), avec ce
   que le registre des suppressions attend encore ; temporaires orphelins retirés ;
4. ``analyse/`` reconstruite (jamais corrigée : DuckDB garde les lignes supprimées).

Le verrou du site est tenu du début à la fin : un export du même site en cours, et la
commande s'arrête sans rien toucher. Codes de sortie : 0 fait (ou déjà fait), 1 argument ou
répertoire invalide, verrou tenu, erreur d'écriture ; 2 rien trouvé (rien n'a été écrit).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from scrapy.commands import ScrapyCommand

from crispscrape.arguments import ArgumentError
from crispscrape.commands.data_dir import data_dir_problem
from crispscrape.config import data_dir_of, lookup
from crispscrape.oserrors import os_reason
from crispscrape.forget.erase import Erased, conversations_traces
from crispscrape.forget.targets import Targets
from crispscrape.forget.traces import analysis_outdated, find, person_traces
from crispscrape.model import EMAIL, PEOPLE, SESSION
from crispscrape.storage.files import StorageError, remove_stale_temporaries
from crispscrape.storage.forgotten import ForgetLog
from crispscrape.storage.layout import ExportLayout
from crispscrape.storage.suppressions import CONVERSATION, SuppressionLog
from crispscrape.website import SiteLocks, parse_website

# Option -> sorte de valeur (oublis.jsonl) et nom montré.
OPTIONS = {"email": (EMAIL, "e-mail"), "people": (PEOPLE, "people_id"),
           "session": (SESSION, "session_id")}
EVIDENCE = "scrapy forget"
NOTHING_CHANGED = "Rien n'a été modifié."


def parse_request(args: list[str], opts) -> list[tuple[str, str]]:
    """(sorte, valeur sans espaces autour) des options données ; ArgumentError sinon."""
    if args:
        raise ArgumentError(f"Argument inattendu : {args[0][:80]!r}. Attendu : --email ADRESSE, "
                            f"--people ID ou --session ID (chacune répétable). {NOTHING_CHANGED}")
    given: list[tuple[str, str]] = []
    for option, (kind, _) in OPTIONS.items():
        for value in getattr(opts, option) or []:
            text = value.strip()
            if not text:
                what = "l'adresse" if kind == EMAIL else "l'identifiant"
                raise ArgumentError(f"--{option} sans valeur : donnez {what} à oublier "
                                    f"(--{option} VALEUR). {NOTHING_CHANGED}")
            if kind == EMAIL and "@" not in text:
                raise ArgumentError(f"--email {text[:80]!r} n'est pas une adresse e-mail (il y manque "
                                    f"« @ »). {NOTHING_CHANGED}")
            if (kind, text) not in given:
                given.append((kind, text))
    if not given:
        raise ArgumentError("Rien à oublier : donnez au moins --email ADRESSE, --people ID ou "
                            "--session ID (chacune peut être répétée), par exemple « scrapy "
                            f"forget --email client@example.com --dry-run ». {NOTHING_CHANGED}")
    return given


@dataclass
class Plan:
    """Ce que la demande désigne, et ce qui serait effacé (compté sans rien toucher)."""

    given: list[tuple[str, str]]
    targets: Targets
    ids: set[str]
    erased: Erased
    # Conversations que suppressions.jsonl attend encore d'effacer (arrêt brutal d'avant).
    pending: set[str] = field(default_factory=set)
    pending_erased: Erased = field(default_factory=Erased)
    analysis_stale: bool = False

    @property
    def derived(self) -> list[tuple[str, str]]:
        given = set(self.given)
        return [pair for pair in self.targets.pairs() if pair not in given]


def survey(data_dir: Path, given: list[tuple[str, str]]) -> Plan:
    """Lit tout ce qu'il faut et compte ce qui serait effacé ; n'écrit rien."""
    request = Targets()
    for kind, value in given:
        request.add(kind, value)
    given = request.pairs()
    targets, ids = find(data_dir, request)
    erased = conversations_traces(data_dir, ids, apply=False, mentions=_mentions(targets, ids))
    erased.merge(person_traces(data_dir, targets, ids, apply=False))
    layout = ExportLayout(data_dir)
    pending = SuppressionLog(layout.suppressions).pending() - ids
    pending_erased = conversations_traces(data_dir, pending, apply=False)
    pending = pending if pending_erased.counts else set()
    return Plan(given, targets, ids, erased, pending, pending_erased, analysis_outdated(layout))


def _mentions(targets: Targets, ids: set[str]):
    return lambda text: targets.mentioned_in(text) or any(i in text for i in ids)


def apply(data_dir: Path, plan: Plan) -> tuple[Erased, int, list[str]]:
    """Note, puis efface. Rend (ce qui a été effacé, empreintes ajoutées, conversations notées)."""
    layout = ExportLayout(data_dir)
    log, added = ForgetLog(layout.forgotten), 0
    for kind in (EMAIL, PEOPLE, SESSION):
        added += log.append(kind, [value for k, value in plan.targets.pairs() if k == kind])
    suppressions = SuppressionLog(layout.suppressions)
    noted = sorted(plan.ids - suppressions.pending())
    if noted:
        suppressions.append(CONVERSATION, noted, evidence=EVIDENCE, policy="erase")
    erased = conversations_traces(data_dir, plan.ids, apply=True,
                                  mentions=_mentions(plan.targets, plan.ids))
    erased.merge(person_traces(data_dir, plan.targets, plan.ids, apply=True))
    erased.merge(conversations_traces(data_dir, plan.pending, apply=True))
    for directory in (layout.root, layout.listing_dir, layout.messages_dir, layout.users_dir):
        if directory.is_dir():
            erased.note("fichiers temporaires d'un arrêt brutal",
                        remove_stale_temporaries(directory), directory, data_dir)
    return erased, added, noted


def rebuild_analysis(data_dir: Path, settings) -> str | None:
    """Reconstruit ``analyse/`` (si elle existe) ; rend la cause d'un échec, sinon None."""
    from crispscrape.commands.report import make_report  # DuckDB : seulement s'il le faut
    from crispscrape.report.sources import Sources

    try:
        remove_stale_temporaries(ExportLayout(data_dir).analysis_dir)
        make_report(Sources(data_dir), settings)
    except Exception as exc:  # DuckDB, disque plein : une phrase, pas une trace
        return os_reason(exc)
    return None


def _sentence(exc: Exception) -> str:
    """Une erreur en une phrase française terminée par un point."""
    text = str(exc) if isinstance(exc, StorageError) else f"{exc.filename} : {os_reason(exc)}" \
        if isinstance(exc, OSError) and exc.filename else os_reason(exc)
    return text if text.endswith(".") else text + "."


def describe(erased: Erased, verb: str, data_dir: Path) -> list[str]:
    lines = [f"{verb} :"] + [f"  - {kind} : {count}" for kind, count in erased.counts.items()]
    lines.append(f"Chemins (relatifs à {data_dir}) :")
    lines += [f"  - {path}" for path in erased.paths]
    return lines


def request_line(plan: Plan) -> str:
    def count(pairs: list[tuple[str, str]]) -> str:
        parts = [f"{sum(1 for k, _ in pairs if k == kind)} {name}"
                 for kind, name in OPTIONS.values() if any(k == kind for k, _ in pairs)]
        return ", ".join(parts)

    derived = plan.derived
    extra = f" ; trouvé par ses profils et conversations : {count(derived)}" if derived else ""
    return f"Demande : {count(plan.given)}{extra} ; {len(plan.ids)} conversation(s) désignée(s)."


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "(--email ADRESSE | --people ID | --session ID)… [--website ID] [--dry-run]"

    def short_desc(self) -> str:
        return ("Efface de l'export une personne ou une conversation (demande d'effacement, "
                "fichiers seuls, aucun appel)")

    def add_options(self, parser) -> None:
        super().add_options(parser)
        for option, (_, name) in OPTIONS.items():
            # nargs="?" : « --email » seul arrive ici (vide, refusé en français, code 1).
            parser.add_argument(f"--{option}", action="append", nargs="?", const="",
                                metavar="VALEUR", help=f"{name} à oublier (répétable)")
        parser.add_argument("--website", metavar="ID",
                            help="le site exporté par -a website=ID ({CRISP_DATA_DIR}/{ID})")
        parser.add_argument("--dry-run", action="store_true",
                            help="dire ce qui serait effacé, sans rien modifier")

    def run(self, args, opts) -> None:
        self.exitcode = self._run(args, opts)

    def _run(self, args, opts) -> int:
        try:
            given = parse_request(args, opts)
            website = parse_website(opts.website)
        except ArgumentError as exc:
            print(exc)
            return 1
        data_dir = data_dir_of(self.settings, website=website)
        problem = data_dir_problem(data_dir, website)
        layout = ExportLayout(data_dir)
        if problem is None and not any(path.exists() for path in (
                layout.listing, layout.messages_dir, layout.users, layout.suppressions)):
            problem = (f"Aucun export dans {data_dir} : ni {layout.listing}, ni fichier de "
                       f"messages, ni profils. Donnez le bon CRISP_DATA_DIR (ou --website). "
                       f"{NOTHING_CHANGED}")
        if problem is not None:
            print(problem)
            return 1
        label = website or lookup("ID_SITE_CRISP", self.settings, os.environ,
                                  "CRISP_WEBSITE_ID") or "CRISP_DATA_DIR"
        try:
            SiteLocks().lock(data_dir, label)
            plan = survey(data_dir, given)
        except (StorageError, OSError) as exc:
            print(_sentence(exc) + ("" if "modifié" in str(exc) else f" {NOTHING_CHANGED}"))
            return 1
        print(request_line(plan))
        if not plan.erased.counts:
            return self._nothing_found(data_dir, plan, opts.dry_run)
        return self._forget(data_dir, plan, opts.dry_run)

    def _nothing_found(self, data_dir: Path, plan: Plan, dry_run: bool) -> int:
        log = ForgetLog(ExportLayout(data_dir).forgotten)
        if not all(log.knows(kind, value) for kind, value in plan.given):
            print(f"Rien trouvé : aucune trace de ces valeurs sous {data_dir} (vérifiez "
                  "l'orthographe, CRISP_DATA_DIR et --website). Rien n'a été écrit.")
            return 2
        print(f"Déjà oublié (oublis.jsonl) : plus aucune trace sous {data_dir}.")
        if not plan.pending and not plan.analysis_stale:
            print("Rien à faire, rien n'a été écrit.")
            return 0
        return self._forget(data_dir, plan, dry_run)

    def _forget(self, data_dir: Path, plan: Plan, dry_run: bool) -> int:
        layout = ExportLayout(data_dir)
        rebuild = layout.analysis_dir.is_dir() and bool(
            plan.erased.counts or plan.pending_erased.counts or plan.analysis_stale)
        if dry_run:
            total = Erased()
            total.merge(plan.erased)
            total.merge(plan.pending_erased)
            lines = ["Essai (--dry-run) : rien n'a été modifié."]
            if total.counts:
                lines += describe(total, "Serait effacé", data_dir)
            if plan.pending:
                lines.append(f"Dont {len(plan.pending)} conversation(s) que suppressions.jsonl "
                             "attend encore d'effacer.")
            if rebuild:
                lines.append(f"Serait reconstruite : {layout.analysis_dir}.")
            if plan.erased.counts:
                lines.append("Seraient notés : les empreintes SHA-256 des valeurs dans "
                             "oublis.jsonl (jamais les valeurs), les session_id des "
                             "conversations dans suppressions.jsonl.")
            print("\n".join(lines))
            return 0
        try:
            erased, added, noted = apply(data_dir, plan)
        except (StorageError, OSError) as exc:
            print(f"Effacement interrompu : {_sentence(exc)} Relancez la même commande : elle "
                  "reprend ce qui reste.")
            return 1
        lines = describe(erased, "Effacé", data_dir) if erased.counts else []
        if plan.pending:
            lines.append(f"Dont {len(plan.pending)} conversation(s) que suppressions.jsonl "
                         "attendait encore d'effacer.")
        if added or noted:
            lines.append(f"Noté : {added} empreinte(s) SHA-256 ajoutée(s) à oublis.jsonl (jamais "
                         f"la valeur), {len(noted)} conversation(s) ajoutée(s) à "
                         "suppressions.jsonl.")
        if lines:
            print("\n".join(lines))
        if rebuild:
            failure = rebuild_analysis(data_dir, self.settings)
            if failure is not None:
                print(f"Base d'analyse non reconstruite : {failure}. Tant qu'elle ne l'est pas, "
                      f"{layout.analysis_dir} garde ces données : relancez « scrapy forget » "
                      "avec les mêmes valeurs (ou « scrapy report »).")
                return 1
            print(f"Base d'analyse reconstruite sans elles : {layout.analysis_dir}.")
        print(f"Fin : oubli terminé. Plus aucune trace sous {data_dir}, hors les session_id "
              "dans suppressions.jsonl ; les prochains exports ne les redemanderont pas.")
        return 0
