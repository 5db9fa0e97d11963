"""``scrapy crawl messages [-a nb=N] [-a reset=1]`` : les messages de chaque conversation.

Étapes et fichiers (un par étape) :
requêtes et pagination (ce fichier) -> dédoublonnage (pipelines/dedup.py) -> écriture
triée et atomique (pipelines/messages.py, archive.py) -> état de reprise (cursor.py).

Pagination d'une conversation : premier appel sans ``timestamp_before`` (le lot le plus
récent), puis on remonte le temps. ``timestamp_before`` est strict : des messages de la
même milliseconde que le plus ancien d'un lot plein pourraient ne pas y tenir et seraient
sautés. On redemande donc ``plus_ancien + 1`` et l'on dédoublonne par fingerprint ; si un
lot entier tient dans une seule milliseconde, on passe en strict pour avancer (compté dans
``messages/same_ms_overflow``). La fin est le statut 200 (206 = il en reste), un lot court
ou vide.

Arrêt anticipé (aucun appel inutile) : un fichier complet n'a plus besoin d'appels dès
qu'un lot rejoint ses messages, ou n'apporte rien de nouveau. Un fichier incomplet (export
interrompu) rattrape d'abord le haut, puis reprend la remontée là où elle s'était arrêtée.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain

from crispscrape.api import InvalidResponse
from crispscrape.storage.messages import MessageArchive
from crispscrape.storage.cursor import MessagesCursor
from crispscrape.items import ConversationDone, MessageItem
from crispscrape.spiders.base import CrispSpider
from crispscrape.storage.files import StorageError, claim_directory, iter_jsonl, safe_name
from crispscrape.model import session_id_of, unwrap
from crispscrape.storage.paths import check_output


@dataclass
class ConversationFetch:
    """Où en est la pagination d'une conversation pendant cette exécution."""

    session_id: str
    rank: int | None
    before: int | None = None
    seen: set[int] = field(default_factory=set)


class MessagesSpider(CrispSpider):
    name = "messages"
    default_nb = 50
    custom_settings = {
        "ITEM_PIPELINES": {
            "crispscrape.pipelines.dedup.MessageDedupPipeline": 300,
            "crispscrape.pipelines.messages.MessageFilePipeline": 400,
        },
        # Les items d'une réponse passent un par un, dans l'ordre : le marqueur de fin
        # d'une conversation atteint l'écriture après tous ses messages.
        "CONCURRENT_ITEMS": 1,
        # Un message déjà connu écarté n'est pas un avertissement.
        "DEFAULT_DROPITEM_LOG_LEVEL": "DEBUG",
    }

    # --- Préparation ----------------------------------------------------------------
    def prepare(self) -> None:
        root = self.config.data_dir / "conversations"
        self.conversations_path = root / "conversations.jsonl"
        if self.conversations_path.exists() and not self.conversations_path.is_file():
            raise StorageError(f"Fichier des conversations inutilisable : {self.conversations_path} "
                               "existe mais n'est pas un fichier (répertoire ?) ; renommez-le ou "
                               "déplacez-le. Aucun fichier n'a été créé.")
        if not self.conversations_path.is_file():
            raise StorageError(
                f"Fichier des conversations introuvable : {self.conversations_path}. "
                "Lancez d'abord « scrapy crawl conversations ». Aucun fichier n'a été créé."
            )
        self.batch_size = self.settings.getint("CRISP_MESSAGES_BATCH_SIZE")
        self.archive = MessageArchive(root / "messages")
        state_path = self.archive.directory / "messages.jsonl.state.json"
        check_output(self.archive.directory, state_path)
        self._lock = claim_directory(self.archive.directory, "export des messages", self.logger)
        self.cursor = MessagesCursor(state_path)
        self.cursor.load(self.reset)
        if self.reset:
            self.logger.info("reset : le curseur repart de la première conversation "
                             "(aucun fichier de messages n'est supprimé).")

    # --- Choix des conversations ----------------------------------------------------
    def _usable(self, report: bool):
        """(index, session_id) des lignes utilisables de conversations.jsonl, en flux."""
        stats = self.crawler.stats
        index = 0
        for number, line_object, _ in iter_jsonl(self.conversations_path):
            session_id = session_id_of(unwrap(line_object))
            if session_id is None:
                if report:
                    stats.inc_value("messages/ignored_invalid_lines")
                    self.logger.warning("conversations.jsonl, ligne %d ignorée : JSON illisible "
                                        "ou sans session_id utilisable.", number)
                continue
            if safe_name(session_id) is None:
                if report:
                    stats.inc_value("messages/ignored_unsafe_ids")
                    self.logger.warning("conversations.jsonl, ligne %d ignorée : session_id %r "
                                        "ne peut pas servir de nom de fichier.", number,
                                        session_id[:80])
                continue
            yield index, session_id
            index += 1

    def _start_index(self) -> int:
        """Position du curseur, retrouvée par session_id si le fichier a été retrié."""
        wanted, saved = self.cursor.next_session_id, self.cursor.next_index
        if not wanted:
            return saved
        found = [index for index, session_id in self._usable(report=False) if session_id == wanted]
        if not found or saved in found:
            return saved
        # Fichier retrié : l'occurrence la plus proche de la position notée (doublons).
        return min(found, key=lambda index: abs(index - saved))

    def _selection(self):
        """(rang, session_id) : d'abord les incomplètes, puis à partir du curseur, en boucle."""
        chosen: set[str] = set()
        for session_id in list(self.cursor.incomplete):
            if len(chosen) >= self.nb:
                return
            if safe_name(session_id):
                chosen.add(session_id)
                yield None, session_id
        start = self._start_index()
        first_pass = ((i, s) for i, s in self._usable(report=True) if i >= start)
        second_pass = ((i, s) for i, s in self._usable(report=False) if i < start)
        rank = 0
        for index, session_id in chain(first_pass, second_pass):
            if len(chosen) >= self.nb:
                self.cursor.selection_done(index, session_id)
                return
            self.cursor.track(rank, index, session_id)
            if session_id in chosen:
                # Ligne en double, ou conversation déjà reprise plus haut : rien à refaire.
                self.crawler.stats.inc_value("messages/ignored_duplicate_lines")
                self.cursor.settle(rank, session_id, complete=session_id not in self.cursor.incomplete)
            else:
                chosen.add(session_id)
                yield rank, session_id
            rank += 1
        # Tout le fichier a été parcouru : la prochaine exécution repart d'où celle-ci a commencé.
        self.cursor.selection_done(start if rank else 0, None)

    def crisp_requests(self):
        selected = 0
        for rank, session_id in self._selection():
            selected += 1
            yield self._batch_request(ConversationFetch(session_id, rank))
        if not selected:
            self.logger.warning("%s ne contient aucune conversation utilisable : rien à exporter.",
                                self.conversations_path)

    # --- Pagination -------------------------------------------------------------------
    def _batch_request(self, fetch: ConversationFetch, priority: int = 0):
        url = self.config.website_url("conversation", fetch.session_id, "messages")
        if fetch.before is not None:
            url += f"?timestamp_before={fetch.before}"
        return self.api_request(url, self.parse_batch, cb_kwargs={"fetch": fetch},
                                priority=priority, dont_filter=True)

    def parse_batch(self, response, fetch: ConversationFetch):
        try:
            batch = self.api_data(response, list)
            _check_messages(batch)
        except InvalidResponse as exc:
            yield from self.retry_or_fail(response.request, exc)
            return
        try:
            record = self.archive.open(fetch.session_id, fetch.rank)
        except StorageError as exc:
            self.crawler.stats.inc_value("crisp_api/failed")
            self.logger.error("%s", exc)
            yield ConversationDone(fetch.session_id, fetch.rank, complete=False, why="fichier")
            return
        if not record.exists:
            record.connected = True
        new = [m for m in batch if m["fingerprint"] not in record.stored
               and m["fingerprint"] not in fetch.seen]
        reached_stored = any(m["fingerprint"] in record.stored for m in batch)
        record.connected = record.connected or reached_stored
        fetch.seen.update(m["fingerprint"] for m in batch)
        for message in batch:
            yield MessageItem(fetch.session_id, message)

        complete_file = (record.exists and not record.unreadable
                         and fetch.session_id not in self.cursor.incomplete)
        if response.status == 200 or len(batch) < self.batch_size:
            yield ConversationDone(fetch.session_id, fetch.rank, complete=True)
        elif complete_file and (reached_stored or not new):
            # Tout ce qui est plus ancien est déjà dans le fichier : aucun appel de plus.
            yield ConversationDone(fetch.session_id, fetch.rank, complete=True, why="à jour")
        else:
            # Un fichier avec des lignes illisibles a des trous : on ne saute rien.
            jump = (reached_stored or not new) and not record.unreadable
            fetch.before = self._next_before(fetch, batch, record, jump=jump)
            # Priorité aux conversations commencées : peu de fichiers ouverts à la fois.
            yield self._batch_request(fetch, priority=1)

    def _next_before(self, fetch, batch, record, jump: bool) -> int:
        oldest = min(m["timestamp"] for m in batch)
        before = oldest + 1
        if jump and record.oldest_stored is not None:
            # Fichier incomplet rattrapé par le haut : on reprend sous son plus ancien message.
            before = min(before, record.oldest_stored + 1)
        if fetch.before is not None and before >= fetch.before:
            # Lot entier dans une seule milliseconde : impossible d'en voir plus avec cette
            # API ; on passe en strict pour avancer, et on le signale.
            self.crawler.stats.inc_value("messages/same_ms_overflow")
            self.logger.warning("Conversation %s : plus de %d messages dans la même milliseconde "
                                "(%d) ; certains peuvent manquer.", fetch.session_id,
                                self.batch_size, oldest)
            before = oldest
        return before

    # --- Fins anormales -------------------------------------------------------------
    def _unfinished(self, request, why: str):
        fetch = request.cb_kwargs["fetch"]
        return [ConversationDone(fetch.session_id, fetch.rank, complete=False, why=why)]

    def resource_failed(self, request, why):
        return self._unfinished(request, "échec")

    def resource_interrupted(self, request):
        return self._unfinished(request, "interrompue")

    def resource_missing(self, request):
        self.crawler.stats.inc_value("messages/conversations_not_found")
        return self._unfinished(request, "introuvable")

    # --- Récapitulatif ----------------------------------------------------------------
    def summary_lines(self):
        stats = self.crawler.stats
        ignored = sum(stats.get_value(key, 0) for key in (
            "messages/ignored_invalid_lines", "messages/ignored_unsafe_ids",
            "messages/ignored_duplicate_lines", "messages/conversations_not_found"))
        stats.set_value("messages/conversations_ignored", ignored)
        files = self.archive.count_files()
        stats.set_value("messages/files", files)
        yield (f"Conversations traitées : {stats.get_value('messages/conversations_done', 0)} "
               f"(dont incomplètes, à reprendre : "
               f"{stats.get_value('messages/conversations_incomplete', 0)}), ignorées : {ignored}.")
        yield (f"Messages : {stats.get_value('messages/new', 0)} nouveaux, "
               f"{stats.get_value('messages/updated', 0)} mis à jour, "
               f"{stats.get_value('messages/ignored_known', 0)} ignorés (déjà connus).")
        yield f"Fichiers .jsonl de conversation dans {self.archive.directory} : {files}."


def _check_messages(batch: list) -> None:
    """Chaque message doit avoir un fingerprint et un timestamp entiers (dédoublonnage, tri)."""
    for message in batch:
        if not (isinstance(message, dict) and isinstance(message.get("fingerprint"), int)
                and isinstance(message.get("timestamp"), int)):
            raise InvalidResponse("invalid_message", "message sans fingerprint ou timestamp")
