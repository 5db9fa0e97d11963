"""Ce que Crisp a supprimé : noté dans ``suppressions.jsonl``, puis effacé à la fin du crawl.

Seule l'araignée des messages prouve une suppression (404 sur la conversation elle-même,
confirmé par un appel : spiders/removals.py) et l'annonce par le signal
``conversation_removed`` ; ce pipeline possède le registre (storage/suppressions.py) et
l'effacement (forget/erase.py), comme FilesPipeline possède son magasin. Aucun item ne le
traverse :

- à chaque signal, la suppression est AJOUTÉE au registre (fsync) tout de suite ;
- à sa fermeture, avec ``CRISP_REMOVED=erase``, tout ce que le registre désigne et qui a
  encore une trace est effacé, y compris ce qu'un arrêt brutal avait laissé ; la base
  d'analyse (``analyse/``) est reconstruite si elle existe, puisqu'une ligne supprimée de
  DuckDB resterait dans ses blocs libres. Scrapy ferme les pipelines dans l'ordre inverse
  de leur priorité : placé le premier (50), celui-ci ferme le dernier, quand les magasins
  des autres sont fermés et le verrou du site encore tenu, et AVANT le récapitulatif
  (spider_closed), qui dit donc ce qui a été effacé (tests/e2e/test_removals.py le vérifie).

Statistiques : ``removed/conversations`` (prouvées dans ce crawl), ``removed/kept`` (dont
gardées, CRISP_REMOVED=keep), ``removed/erased`` (conversations effacées des fichiers, y
compris celles d'un crawl interrompu), ``removed/analysis_rebuilt``.
"""

from __future__ import annotations

import logging

from crispscrape.config import removal_policy
from crispscrape.context import export_context
from crispscrape.forget.erase import erase_conversations, erase_messages, erase_profiles
from crispscrape.oserrors import os_reason
from crispscrape.signals import (
    conversation_removed, conversation_restored, messages_removed, profile_removed,
    removals_due, stop_export, traces_erased,
)
from crispscrape.storage import StorageError
from crispscrape.sources.crisp import CRISP_MODEL
from crispscrape.storage.layout import ExportLayout
from crispscrape.storage.suppressions import (
    MESSAGE, PROFILE, RESTORED, SuppressionLog, message_keys, removal_kind,
)

logger = logging.getLogger(__name__)


class RemovalsPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        crawler.signals.connect(self.removed, signal=conversation_removed)
        crawler.signals.connect(self.restored, signal=conversation_restored)
        crawler.signals.connect(self.messages_removed, signal=messages_removed)
        crawler.signals.connect(self.profile_removed, signal=profile_removed)
        crawler.signals.connect(self.erase_now, signal=removals_due)
        # Vrai quand un effacement attend la reconstruction de analyse/.
        self.analysis_owed = False

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _log(self) -> SuppressionLog | None:
        context = export_context(self.crawler)
        if context is None or context.config is None or context.refused:
            return None
        return SuppressionLog(ExportLayout(context.config.data_dir).suppressions)

    def _source(self):
        return export_context(self.crawler).source  # type: ignore[union-attr]

    def removed(self, session_id: str, evidence: str) -> None:
        log = self._log()
        if log is None:
            return
        policy = removal_policy(self.crawler.settings)
        if not self._note(log, removal_kind(self._source().name), [session_id], evidence, policy):
            return
        self.stats.inc_value("removed/conversations")
        if policy == "keep":
            self.stats.inc_value("removed/kept")
        kept = "effacée de l'export" if policy == "erase" else "gardée ici (CRISP_REMOVED=keep)"
        logger.info("Conversation %s supprimée chez %s (%s) : %s, plus jamais demandée.",
                    session_id, self._source().label, evidence, kept)

    def restored(self, session_id: str) -> None:
        """Signal conversation_restored : listée de nouveau par Crisp, elle existe ; sa
        suppression est levée (plus d'effacement, de nouveau exportée)."""
        log = self._log()
        if log is None:
            return
        if not self._note(log, removal_kind(self._source().name), [session_id],
                          "de nouveau dans la liste de Crisp", RESTORED):
            return
        self.stats.inc_value("removed/restored")
        logger.warning("Conversation %s de nouveau listée par %s : sa suppression est levée, "
                       "elle est exportée de nouveau.", session_id, self._source().label)

    def messages_removed(self, session_id: str, keys: list, evidence: str) -> None:
        """Messages qu'une relecture complète n'a plus revus : notés (``{session}:{clé}``) ;
        le pipeline d'écriture les retire du fichier si CRISP_REMOVED=erase."""
        log = self._log()
        if log is None:
            return
        policy = removal_policy(self.crawler.settings)
        if not self._note(log, MESSAGE, [f"{session_id}:{key}" for key in keys], evidence,
                          policy):
            return
        self.stats.inc_value("removed/messages", len(keys))
        logger.info("Conversation %s : %d message(s) supprimé(s) chez %s (%s) : %s.", session_id,
                    len(keys), self._source().label, evidence,
                    "retirés du fichier" if policy == "erase" else "gardés ici (CRISP_REMOVED=keep)")

    def profile_removed(self, people_id: str | None, evidence: str) -> None:
        log = self._log()
        if log is None:
            return
        policy = removal_policy(self.crawler.settings)
        # Sans people_id, rien d'identifiable à noter (l'e-mail ne l'est jamais ici).
        if people_id is not None:
            if not self._note(log, PROFILE, [people_id], evidence, policy):
                return
        self.stats.inc_value("removed/profiles")
        logger.info("Profil %s supprimé chez Crisp (%s) : %s.", people_id or "(sans people_id)",
                    evidence, "retiré du fichier" if policy == "erase"
                    else "gardé ici (CRISP_REMOVED=keep)")

    def _note(self, log: SuppressionLog, kind: str, ids: list[str], evidence: str,
              policy: str) -> bool:
        """Le registre d'abord : s'il ne peut être écrit (disque plein…), l'export s'arrête
        (export_stopped) et l'araignée ne retire rien (elle voit la cause notée)."""
        try:
            log.append(kind, ids, evidence, policy)
        except OSError as exc:
            stop_export(self.crawler, "output_error", "Registre des suppressions impossible à "
                        f"écrire ({log.path}) : {os_reason(exc)}. Rien n'a été retiré.")
            return False
        return True

    def close_spider(self, spider=None) -> None:
        self.erase(closing=True)

    def erase_now(self) -> None:
        """Signal removals_due (le direct, calme)."""
        self.erase(closing=False)

    def erase(self, closing: bool) -> None:
        """Efface ce que le registre désigne (CRISP_REMOVED=erase) : à la fermeture, quand les
        autres magasins sont fermés ; pendant le direct (signal removals_due), quand il est
        calme, et les magasins l'oublient alors en mémoire (signal traces_erased)."""
        log = self._log()
        if log is None or removal_policy(self.crawler.settings) != "erase" \
                or not log.path.is_file():
            return
        data_dir = log.path.parent
        source = self._source()
        conversations = log.pending(removal_kind(source.name))
        messages = message_keys(log.pending(MESSAGE)) if source.model is CRISP_MODEL else set()
        try:
            erased = erase_conversations(data_dir, conversations, source.model)
            if source.model is CRISP_MODEL:
                erased.merge(erase_messages(data_dir, messages))
                erased.merge(erase_profiles(data_dir, log.pending(PROFILE)))
        except (OSError, StorageError) as exc:
            logger.error("Effacement de ce qui a été supprimé chez Crisp impossible : %s. "
                         "Il sera repris à la fin de la prochaine exécution.", os_reason(exc))
            return
        self.crawler.signals.send_catch_log(traces_erased, conversations=conversations,
                                            messages=messages, profiles=log.pending(PROFILE))
        if erased.counts:
            self.stats.inc_value("removed/erased", erased.counts.get("conversations", 0))
            logger.info("Effacé de l'export : %s (%s).",
                        ", ".join(f"{n} {kind}" for kind, n in erased.counts.items()),
                        ", ".join(erased.paths))
            self.analysis_owed = True
        # Pendant le direct, la base d'analyse (DuckDB, synchrone) bloquerait la connexion
        # et l'application des événements : elle est refaite à son arrêt.
        if closing and self.analysis_owed:
            self._rebuild_analysis(data_dir)

    def _rebuild_analysis(self, data_dir) -> None:
        layout = ExportLayout(data_dir)
        if not layout.analysis_dir.is_dir():
            return
        # Importé ici : DuckDB n'est chargé que s'il y a une base à refaire.
        from crispscrape.commands.report import make_report
        from crispscrape.report.sources import Sources

        try:
            make_report(Sources(data_dir), self.crawler.settings)
        except Exception as exc:  # DuckDB, disque plein : une phrase, pas une trace
            logger.error("Base d'analyse non reconstruite après l'effacement : %s. Relancez "
                         "« scrapy report » : tant qu'elle ne l'est pas, %s garde les "
                         "conversations effacées.", os_reason(exc), layout.analysis_dir)
            return
        self.stats.set_value("removed/analysis_rebuilt", 1)
