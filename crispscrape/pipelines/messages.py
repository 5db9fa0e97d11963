"""Écriture des fichiers de messages, triés du plus récent au plus ancien.

Les messages d'une conversation s'accumulent en mémoire jusqu'au marqueur
``ConversationDone`` ; le fichier est alors remplacé d'un seul coup par son contenu complet
(anciens + nouveaux + modifiés, triés), puis le curseur avance. Un fichier partiel
(pagination interrompue) n'est écrit que s'il reste d'un seul tenant, et toujours APRÈS avoir
noté dans l'état qu'il est incomplet : après un arrêt brutal à n'importe quel moment, rien
n'est perdu (au pire, quelques appels sont refaits).
"""

from __future__ import annotations

import logging

from crispscrape.items import ConversationDone, MessageItem
from crispscrape.pipelines.base import CrawlerPipeline

logger = logging.getLogger(__name__)


class MessageFilePipeline(CrawlerPipeline):
    def __init__(self, crawler):
        super().__init__(crawler)
        self.progress_every = crawler.settings.getint("CRISP_PROGRESS_EVERY")

    def process_item(self, item, spider=None):
        spider = self.crawler.spider
        if isinstance(item, MessageItem):
            spider.archive.get(item.session_id).pending[item.message["fingerprint"]] = item.message
        elif isinstance(item, ConversationDone):
            try:
                self._finish(spider, item.session_id, item.rank, item.complete, item.why)
            except OSError as exc:
                self._write_failed(spider, item.session_id, exc)
                spider.abort("output_error", "Arrêt de l'export : le répertoire de données "
                                             "n'accepte plus d'écriture.")
        return item

    def close_spider(self, spider=None):
        spider = self.crawler.spider
        archive = getattr(spider, "archive", None)
        if archive is None:
            return
        # Arrêt (quota, Ctrl-C) : les conversations encore ouvertes sont sauvées en partiel.
        for record in list(archive.records.values()):
            try:
                self._finish(spider, record.session_id, record.position, False, "interrompue")
            except OSError as exc:
                self._write_failed(spider, record.session_id, exc)

    def _write_failed(self, spider, session_id, exc: OSError) -> None:
        # L'écriture est atomique : l'ancien fichier est intact et le curseur n'a pas bougé,
        # la conversation sera simplement refaite (_finish a déjà refermé son dossier).
        self.stats.inc_value("messages/write_failed")
        logger.error("Écriture impossible pour la conversation %s : %s. Le fichier existant est "
                     "intact ; elle sera reprise à la prochaine exécution.", session_id,
                     exc.strerror or exc)

    def _finish(self, spider, session_id, rank, complete, why):
        archive, cursor = spider.archive, spider.cursor
        record = archive.records.get(session_id)
        if record is None:
            # Aucune réponse exploitable (404, échec dès le premier appel) : rien à écrire.
            if complete or why == "introuvable":
                cursor.settle(rank, session_id, complete=True)
            else:
                cursor.mark_incomplete(session_id, cursor.incomplete.get(session_id))
                cursor.settle(rank, session_id, complete=False)
                self.stats.inc_value("messages/conversations_incomplete")
            return
        archive.close(session_id)
        if complete:
            if record.changed:
                archive.write(record)
            cursor.settle(rank, session_id, complete=True)
        elif record.connected and record.pending:
            merged = {**record.stored, **record.pending}
            cursor.mark_incomplete(session_id, min(m["timestamp"] for m in merged.values()))
            archive.write(record)
            cursor.settle(rank, session_id, complete=False)
        else:
            # Rien d'écrivable sans trou : on garde le fichier tel quel, tout sera redemandé.
            record.new_count = record.updated_count = 0
            if session_id not in cursor.incomplete and not record.exists:
                cursor.mark_incomplete(session_id, None)
            cursor.settle(rank, session_id, complete=False)
        self._count(record, complete, why)

    def _count(self, record, complete, why):
        stats = self.stats
        stats.inc_value("messages/new", record.new_count)
        stats.inc_value("messages/updated", record.updated_count)
        stats.inc_value("messages/conversations_done")
        if not complete:
            stats.inc_value("messages/conversations_incomplete")
        done = stats.get_value("messages/conversations_done")
        state = "complète" if complete else f"incomplète ({why}), reprise à la prochaine exécution"
        logger.info("Conversation %s : %d message(s) exporté(s), %d mis à jour, %d ignoré(s) "
                    "(déjà connus) ; %s.", record.session_id, record.new_count,
                    record.updated_count, record.ignored_count, state)
        if done % self.progress_every == 0:
            logger.info("Progression : %d conversations traitées, %d messages exportés, "
                        "%d ignorés.", done, stats.get_value("messages/new", 0),
                        stats.get_value("messages/ignored_known", 0))
