"""Magasin de l'export des messages : ``{dossier}/messages/{conversation}.jsonl`` et son état.

Le même pour les trois systèmes (``conversations/`` pour Crisp, ``ninja/``, ``wanzo/``) : le
``MessageModel`` du système (crispscrape/sources/) dit la clé d'un message et l'ordre du
fichier. Seul le pipeline d'écriture le modifie (``add``, ``finish``) ; l'araignée et le
dédoublonnage le lisent (``plan``, ``known``), comme ``FilesPipeline`` et son ``FSFilesStore``.
Une conversation est ouverte à sa première réponse, refermée dès que son fichier est écrit.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from types import MappingProxyType

from crispscrape.console import Repeats
from crispscrape.items import LIVE, REMOVED, Finished, Known
from crispscrape.oserrors import os_reason
from crispscrape.paging.cursor import MessagesCursor
from crispscrape.paging.selection import Policy, choose, file_size, plan
from crispscrape.sources.base import MessageModel
from crispscrape.sources.crisp import CRISP_MODEL
from crispscrape.storage.files import StorageError, append_lines, fsync_directory
from crispscrape.storage.grouped import GroupedReplace
from crispscrape.storage.jsonl import read_lines
from crispscrape.storage.open_conversation import OpenConversation
from crispscrape.storage.layout import UNREADABLE_SUFFIX, ExportLayout
from crispscrape.storage.paths import StoreDirectory

logger = logging.getLogger(__name__)


class MessageStore:
    """Les fichiers de messages et l'état d'un export ; ouvert par le pipeline d'écriture."""

    def __init__(self, data_dir: Path, stats, state_flush_seconds: float = 1.0,
                 model: MessageModel = CRISP_MODEL, repeats: Repeats | None = None):
        self.model = model
        layout = ExportLayout(Path(data_dir), model.folder, model.listing_name)
        self.conversations_path = layout.listing
        self.directory = layout.messages_dir
        self._directory = str(self.directory)
        self.stats = stats
        self.cursor = MessagesCursor(layout.messages_state)
        # Fichiers remplacés par lots (grouped.py), toujours AVANT l'état qui les décrit.
        self._files = GroupedReplace(self._directory)
        self.cursor.before_save = self._commit_files
        self.open_conversations: dict[str, OpenConversation] = {}
        self.state_flush_seconds = state_flush_seconds
        self._repeats = repeats or Repeats()
        self._last_flush = 0.0
        self.dir_lock = StoreDirectory(self.directory, "export des messages", logger)
        # Vrai une fois ouvert (le reste après la fermeture : le récapitulatif le lit).
        self.opened = False

    def open(self, reset: bool) -> None:
        """Vérifie l'entrée et la sortie, prend le verrou, lit l'état ; StorageError sinon."""
        path = self.conversations_path
        if path.exists() and not path.is_file():
            raise StorageError(f"Fichier des conversations inutilisable : {path} existe mais n'est "
                               "pas un fichier (répertoire ?) ; renommez-le ou déplacez-le. Aucun "
                               "fichier n'a été créé.")
        if not path.is_file() and self.model.missing_listing:
            raise StorageError(f"Fichier des conversations introuvable : {path}. "
                               f"{self.model.missing_listing} Aucun fichier n'a été créé.")
        # Temporaires d'un arrêt brutal retirés, jamais substitués : leur conversation sera refaite.
        self.dir_lock.claim(lambda: self.cursor.load(reset), self.cursor.state.path)
        self.opened = True
        self._last_flush = time.monotonic()
        if reset:
            logger.info("reset : le curseur repart de la première conversation "
                        "(aucun fichier de messages n'est supprimé).")

    def interrupt_all(self) -> Iterator[Finished]:
        """Arrêt (quota, Ctrl-C) : les conversations encore ouvertes sont sauvées en partiel."""
        for conversation in list(self.open_conversations.values()):
            try:
                yield self.finish(conversation.session_id, conversation.rank, complete=False, why="interrompue")
            except OSError as exc:
                self.write_failed(conversation.session_id, exc)

    def close(self) -> None:
        try:
            self.flush()
        except (OSError, StorageError) as exc:
            # Disque plein, par exemple : les fichiers en place sont complets, l'état d'avant
            # vaut toujours (ce qui suit sera refait).
            self.stats.inc_value("messages/state_save_failed")
            logger.error("État de l'export des messages non enregistré : %s. Les fichiers déjà "
                         "écrits sont intacts ; les dernières conversations seront refaites.",
                         os_reason(exc))
        self.dir_lock.release()

    def plan(self, nb: int, policy: Policy) -> Iterator[tuple[int | None, str]]:
        return plan(self.cursor, self.conversations_path, nb, self.stats, policy, self.directory,
                    self.model, self._size_of)

    def choose(self, policy: Policy, targets: set[str] | None) -> list[str]:
        return choose(self.cursor, self.conversations_path, policy, targets, self.directory,
                      self.model, self._size_of)

    def known(self, session_id: str, rank: int | None) -> Known:
        """Ce que le fichier de la conversation contient déjà (lu une seule fois)."""
        conversation = self._open(session_id, rank)
        complete = conversation.exists and not conversation.unreadable \
            and session_id not in self.cursor.incomplete
        stamps = [m["timestamp"] for m in conversation.stored.values() if isinstance(m.get("timestamp"), int)]
        return Known(conversation.exists, complete, bool(conversation.unreadable), min(stamps, default=None),
                     MappingProxyType(conversation.stored), MappingProxyType(conversation.pending))

    def count_files(self) -> int:
        with os.scandir(self.directory) if self.directory.is_dir() else nullcontext(()) as found:
            return sum(1 for entry in found if entry.name.endswith(".jsonl") and entry.is_file())

    def add(self, session_id: str, messages: list[dict], reached_stored: bool,
            new: int, updated: int, ignored: int, removed=()) -> None:
        """Messages nouveaux ou modifiés d'une réponse, déjà dédoublonnés ; ``removed`` : clés
        absentes d'une relecture complète (supprimées chez Crisp), retirées du fichier."""
        conversation = self.open_conversations.get(session_id)
        if conversation is None:
            # Fin anormale sans réponse exploitable (échec, 404) : rien n'a été lu ni reçu.
            if messages:
                raise RuntimeError(f"messages reçus pour {session_id}, conversation non ouverte")
            return
        conversation.connected = conversation.connected or reached_stored
        key, pending = self.model.message_key, conversation.pending
        for message in messages:
            # Retiré puis remis : la place dans ``pending`` suit le dernier ordre de réception.
            fingerprint = key(message)
            pending.pop(fingerprint, None)
            pending[fingerprint] = message
        for fingerprint in removed:
            conversation.dropped += conversation.stored.pop(fingerprint, None) is not None
        conversation.new_count += new
        conversation.updated_count += updated
        conversation.ignored_count += ignored

    def finish(self, session_id: str, rank: int | None, complete: bool, why: str) -> Finished:
        """Referme une conversation : fichier complet, ou partiel s'il reste d'un seul tenant
        (toujours APRÈS l'avoir noté incomplet), puis l'état avance."""
        cursor = self.cursor
        conversation = self.open_conversations.pop(session_id, None)
        if why == "introuvable" and self.model.record_missing and conversation is not None \
                and not conversation.pending:
            # Supprimée en amont (404) : son fichier est gardé tel quel et notée faite, pour
            # ne plus coûter d'appel tant que la liste ne la montre pas changée.
            size = os.stat(conversation.path).st_size if conversation.exists else None
            cursor.settle(rank, session_id, complete=True, size=size)
            self.maybe_flush()
            return Finished(session_id, why, True, opened=False)
        if why == LIVE:
            return self._apply_live(conversation)
        if why == REMOVED:
            # Supprimée chez Crisp (spiders/removals.py) : rien à écrire ni à noter ; le
            # registre des suppressions dit de ne plus la demander, l'effacement suit.
            cursor.settle(rank, session_id, complete=True, record=False)
            self.maybe_flush()
            return Finished(session_id, why, True, opened=False)
        if conversation is None:
            # Aucune réponse exploitable (404, échec dès le premier appel) : rien à écrire.
            if complete or why == "introuvable":
                # Introuvable (404) : rien à écrire, mais pas d'empreinte notée non plus ; une
                # URL d'API fausse ou un site pas encore lié ne doit jamais faire passer des
                # conversations pour exportées. Elle est redemandée tant qu'elle est listée.
                cursor.settle(rank, session_id, complete=True, record=self.model.record_missing)
            else:
                cursor.mark_incomplete(session_id, cursor.incomplete.get(session_id))
                cursor.settle(rank, session_id, complete=False)
            self.maybe_flush()
            return Finished(session_id, why, complete or why == "introuvable", opened=False)
        if complete:
            if conversation.pending or conversation.dropped or not conversation.exists \
                    or conversation.unreadable:
                size = self._write(conversation)
            else:
                size = os.stat(conversation.path).st_size
            cursor.settle(rank, session_id, complete=True, size=size)
        elif conversation.connected and conversation.pending:
            merged = {**conversation.stored, **conversation.pending}
            # La règle qui rend l'arrêt brutal sans danger : incomplet noté (et synchronisé)
            # AVANT que le fichier partiel n'existe.
            cursor.mark_incomplete(session_id, self.model.partial_marker(merged.values()))
            self._write(conversation)
            cursor.settle(rank, session_id, complete=False)
        else:
            # Rien d'écrivable sans trou : on garde le fichier tel quel, tout sera redemandé.
            conversation.new_count = conversation.updated_count = 0
            if session_id not in cursor.incomplete and not conversation.exists:
                cursor.mark_incomplete(session_id, None)
            cursor.settle(rank, session_id, complete=False)
        self.maybe_flush()
        return Finished(session_id, why, complete, True, conversation.new_count,
                        conversation.updated_count, conversation.ignored_count,
                        len({**conversation.stored, **conversation.pending})
                        + len(conversation.foreign))

    def _apply_live(self, conversation: OpenConversation | None) -> Finished:
        # Événement en direct : fichier en place TOUT DE SUITE, état inchangé (sa taille ne
        # correspond plus à ``done`` : relu par REST plus tard, jamais tenu pour complet).
        if conversation is not None and (conversation.pending or conversation.dropped):
            cursor, session_id = self.cursor, conversation.session_id
            if cursor.done.get(session_id) is None and session_id not in cursor.incomplete:
                # Jamais complétée : notée incomplète AVANT le fichier (relue en entier).
                cursor.mark_incomplete(session_id, None)
            self._write(conversation)
            self._commit_files()
        return Finished(conversation.session_id if conversation else "", LIVE, True, opened=False)

    def forget(self, session_ids: set[str]) -> None:
        """Effacées des fichiers pendant l'exécution (le direct) : oubliées en mémoire aussi."""
        for session_id in session_ids:
            self.cursor.done.pop(session_id)
            self.cursor.incomplete.pop(session_id, None)
            self.open_conversations.pop(session_id, None)
        self._files.discard(os.path.join(self._directory, name) for name in
                            map(self.model.file_name, session_ids) if name)
        self.cursor.dirty = True

    def write_failed(self, session_id: str, exc: OSError) -> None:
        # L'écriture est atomique : l'ancien fichier est intact, le curseur n'a pas bougé.
        self.stats.inc_value("messages/write_failed")
        # Les 3 premières d'une même cause une à une (un disque plein en ferait des dizaines).
        say = logger.error if self._repeats.first(os_reason(exc)) else logger.debug
        say("Écriture impossible pour la conversation %s : %s. Le fichier existant est intact ; "
            "elle sera reprise à la prochaine exécution.", session_id, os_reason(exc))

    def flush(self) -> None:
        """Écrit l'état s'il a changé, après avoir mis en place les fichiers qu'il décrit."""
        if not self.opened:
            return
        if not self.cursor.dirty:
            self._commit_files()
            return
        self.cursor.save()
        self._last_flush = time.monotonic()
        self.stats.inc_value("messages/state_saves")

    def maybe_flush(self, pending_only: bool = False) -> None:
        # Au plus une fois par CRISP_MESSAGES_STATE_FLUSH s (un arrêt brutal ne fait que
        # redemander les dernières conversations). ``pending_only`` : le tic du pipeline, pour
        # la dernière relecture du direct, qu'aucun item ne suit.
        if time.monotonic() - self._last_flush >= self.state_flush_seconds and (
                not pending_only or self.cursor.dirty or len(self._files) > 0):
            self.flush()

    def _size_of(self, path: str) -> int | None:
        staged = self._files.size(path)
        return staged if staged is not None else file_size(path)

    def _commit_files(self) -> None:
        # Sans fichier en attente, le répertoire l'est quand même (lignes mises de côté…).
        if not self._files.commit():
            fsync_directory(self.directory)

    def _write(self, conversation: OpenConversation) -> int:
        """Prépare le fichier de la conversation (en place au prochain état) ; rend sa taille."""
        if conversation.unreadable:
            # Rien ne se perd : les lignes illisibles sont gardées à côté, pour examen.
            aside = Path(conversation.path + UNREADABLE_SUFFIX)
            append_lines(aside, conversation.unreadable)
            logger.warning("%s : %d ligne(s) illisible(s) mise(s) de côté dans %s.",
                           os.path.basename(conversation.path), len(conversation.unreadable), aside.name)
        return self._files.write_lines(conversation.path, conversation.merged_lines(self.model))

    def _open(self, session_id: str, rank: int | None) -> OpenConversation:
        conversation = self.open_conversations.get(session_id)
        if conversation is not None:
            return conversation
        name = self.model.file_name(session_id)
        if name is None:
            raise StorageError(f"La conversation {session_id[:80]!r} ne peut pas servir de nom de "
                               "fichier : ignorée.")
        path = os.path.join(self._directory, name)
        if self._files.staged(path):
            # Refermée plus tôt dans cette exécution, pas encore en place : on la lit à jour.
            self._files.commit()
        conversation = OpenConversation(session_id, path, rank, connected=self.model.forward)
        if os.path.exists(path):
            if not os.path.isfile(path):
                raise StorageError(f"{path} n'est pas un fichier : la conversation {session_id} "
                                   "ne peut pas être exportée. Déplacez-le puis relancez.")
            conversation.exists = True
            for line in read_lines(path, "Fichier de messages"):
                if not isinstance(line.obj, dict):
                    logger.warning("%s, ligne %d illisible (tronquée ?) : la conversation sera "
                                   "reprise depuis le début pour la compléter.",
                                   os.path.basename(path), line.number)
                    conversation.unreadable.append(line.full)
                elif (key := self.model.message_key(line.obj)) is not None:
                    conversation.stored[key] = line.obj
                else:
                    conversation.foreign.append(line.obj)
        else:
            conversation.connected = True
        self.open_conversations[session_id] = conversation
        return conversation
