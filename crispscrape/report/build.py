"""Construction de ``analyse/crisp.duckdb`` et de ``analyse/parquet/``, d'un seul coup.

Tout est construit dans un répertoire de travail caché sous ``analyse/`` (même système de
fichiers), puis mis en place : la base par ``os.replace``, ``parquet/`` par un échange
atomique avec l'ancien (``renameat2``). Un lecteur trouve toujours l'ancienne base complète
ou la nouvelle complète, jamais une base à moitié écrite ; un arrêt brutal ne laisse qu'un
répertoire de travail, retiré à la construction suivante.

Lignes illisibles : DuckDB lit les fichiers lui-même (readers.py) et rend NULL pour une
ligne qui n'est pas du JSON. Un fichier qui en a est relu par le lecteur du
projet (``storage/jsonl.read_lines`` : marque BOM ignorée, octets non UTF-8
lus en latin-1, comme partout ailleurs) et ses lignes récupérables sont rechargées ; le reste
(JSON invalide, ligne qui n'est pas un objet ou sans identifiant) est retiré, compté et
signalé : jamais fatal.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from crispscrape.storage.layout import ANALYSIS_DIR, DATABASE_NAME, PARQUET_DIR
from crispscrape.report.exchange import exchange_paths
from crispscrape.report.readers import insert_sql, split
from crispscrape.report.result import BuildResult, Skipped
from crispscrape.report.schema import KEYS, MACROS, TABLES, VIEWS
from crispscrape.report.sources import Sources
from crispscrape.storage.files import PRIVATE_FILE, dumps_line, fsync_directory
from crispscrape.storage.jsonl import read_lines

logger = logging.getLogger(__name__)

WORK_PREFIX = ".construction-"


class DatabaseBuilder:
    """Une construction : répertoire de travail, chargement des tables, mise en place."""

    def __init__(self, sources: Sources):
        self.sources = sources
        self.analysis_dir = sources.data_dir / ANALYSIS_DIR

    def build(self) -> BuildResult:
        import duckdb  # seulement ici : les araignées n'en ont pas besoin

        os.makedirs(self.analysis_dir, exist_ok=True)
        _remove_leftovers(self.analysis_dir)
        work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=self.analysis_dir))
        result = BuildResult(self.analysis_dir / DATABASE_NAME, self.analysis_dir / PARQUET_DIR)
        try:
            started = time.perf_counter()
            connection = duckdb.connect(os.fspath(work / DATABASE_NAME))
            try:
                self._fill(connection, work, result)
                # Les tables sur disque avant l'export : la durée « base » les compte.
                connection.execute("CHECKPOINT")
                exported = time.perf_counter()
                result.durations["base"] = exported - started
                parquet = work / PARQUET_DIR
                parquet.mkdir()
                for table in TABLES:
                    target = os.fspath(parquet / f"{table}.parquet").replace("'", "''")
                    # Groupes de 60 000 lignes au lieu de 122 880 : DuckDB écrit un groupe
                    # par fil ; 212 000 messages n'en faisaient que deux, écrits presque
                    # l'un après l'autre (0,21 → 0,15 s au banc, fichier de même taille).
                    connection.execute(f"COPY {table} TO '{target}' "
                                       "(FORMAT parquet, ROW_GROUP_SIZE 60000)")
                result.durations["parquet"] = time.perf_counter() - exported
            finally:
                connection.close()
            installed = time.perf_counter()
            self._install(work, result)
            result.durations["mise en place"] = time.perf_counter() - installed
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return result

    # --- Chargement ------------------------------------------------------------------------
    def _fill(self, connection, work: Path, result: BuildResult) -> None:
        """Charge les tables. Les messages (presque tout le travail, déjà sur tous les fils
        de DuckDB) sont chargés pendant que, sur une seconde connexion à la même base, un fil
        Python charge les fichiers uniques : leur lecture n'occupe qu'un cœur, et l'autre
        restait libre (banc bench.report_db : environ 0,3 s de moins sur 2,3 s). Les tables
        sont distinctes : les deux transactions ne se gênent pas."""
        for table, columns in TABLES.items():
            connection.execute(f"CREATE TABLE {table} ({columns})")
        failures: list[BaseException] = []
        cursor = connection.cursor()
        side = threading.Thread(target=self._fill_single_files,
                                args=(cursor, work, result, failures),
                                name="crispscrape-analyse")
        side.start()
        try:
            _prepare(connection)
            files = self.sources.message_files()
            if files:
                threads = int(connection.execute(
                    "SELECT current_setting('threads')").fetchone()[0])
                self._load(connection, "messages", files, split(files, threads), work, result)
        except BaseException:
            _interrupt(cursor)
            raise
        finally:
            _wait(side, cursor)
        if failures:
            raise failures[0]
        connection.execute(VIEWS)
        for table in TABLES:
            result.rows[table] = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        # Ordre des tables dans le bilan : celui de TABLES, quel que soit le fil qui a fini
        # le premier.
        result.skipped = {table: result.skipped[table] for table in TABLES
                          if table in result.skipped}

    def _fill_single_files(self, cursor, work: Path, result: BuildResult,
                           failures: list[BaseException]) -> None:
        """Profils, conversations, index des pièces jointes (fil secondaire) ; une erreur est
        rendue au fil principal, qui la relève après l'attente."""
        try:
            with cursor:
                _prepare(cursor)
                sources = self.sources
                # Les profils d'abord : conversations.has_profile les consulte.
                for table, path in (("people", sources.users),
                                    ("conversations", sources.conversations),
                                    ("files", sources.files_index)):
                    if path.is_file():
                        self._load(cursor, table, [os.fspath(path)], [os.fspath(path)], work,
                                   result)
        except BaseException as exc:  # noqa: BLE001 — relevée telle quelle par _fill
            failures.append(exc)

    @staticmethod
    def _insert(connection, table: str, params: list) -> None:
        """Messages : d'abord sans TRY (le cas de presque tous les exports : que du JSON
        valide) ; à la première ligne illisible, DuckDB annule l'instruction entière (rien
        n'est inséré) et la lecture tolérante la refait, lignes illisibles en NULL."""
        import duckdb
        if table == "messages":
            try:
                connection.execute(insert_sql(table, len(params), tolerant=False), params)
                return
            except duckdb.Error:
                pass
        connection.execute(insert_sql(table, len(params)), params)

    def _load(self, connection, table: str, files: list[str], params: list, work: Path,
              result: BuildResult) -> None:
        """Remplit la table ; ``params`` : ce que lit sa source (un chemin, ou pour les
        messages une liste de fichiers par morceau)."""
        self._insert(connection, table, params)
        key = KEYS[table]
        bad = connection.execute(f"SELECT count(*) FROM {table} WHERE {key} IS NULL").fetchone()[0]
        skipped = Skipped()
        if bad:
            skipped.lines += self._reload(connection, table, files, work, skipped)
            skipped.lines += connection.execute(
                f"DELETE FROM {table} WHERE {key} IS NULL").fetchone()[0]
        if skipped.lines:
            logger.warning("Table %s : %d ligne(s) illisible(s) ou sans identifiant ignorée(s) "
                           "(%s).", table, skipped.lines, ", ".join(skipped.files))
        result.skipped[table] = skipped

    def _reload(self, connection, table: str, files: list[str], work: Path,
                skipped: Skipped) -> int:
        """Relit par le lecteur du projet les fichiers qui ont des lignes inutilisables ;
        renvoie le nombre de lignes qui ne sont pas du JSON du tout."""
        if table == "messages":
            sessions = {row[0] for row in connection.execute(
                "SELECT DISTINCT session_id FROM messages WHERE fingerprint IS NULL").fetchall()}
            suspects = [path for path in files if Path(path).stem in sessions]
            connection.execute("DELETE FROM messages WHERE session_id IN "
                               "(SELECT unnest(?::VARCHAR[]))", [sorted(sessions)])
        else:
            suspects = files
            connection.execute(f"DELETE FROM {table}")
        folder = work / f"reparation-{table}"
        folder.mkdir()
        unreadable = 0
        repaired = []
        for path in suspects:
            skipped.files.append(os.path.basename(path))
            copy = folder / os.path.basename(path)
            with open(copy, "w", encoding="utf-8") as handle:
                for line in read_lines(path, f"Fichier {path}"):
                    if line.obj is None:
                        unreadable += 1
                    else:
                        handle.write(dumps_line(line.obj))
            repaired.append(os.fspath(copy))
        if repaired:
            connection.execute(insert_sql(table), [repaired])
        return unreadable

    # --- Mise en place -----------------------------------------------------------------------
    def _install(self, work: Path, result: BuildResult) -> None:
        """La base, puis les Parquet, remplacés d'un coup ; droits du seul propriétaire (les
        données personnelles des clients y sont, comme dans l'export)."""
        parquet = work / PARQUET_DIR
        for path in (work / DATABASE_NAME, *parquet.iterdir()):
            os.chmod(path, PRIVATE_FILE)
            fsync_directory(path)
        fsync_directory(parquet)
        os.replace(work / DATABASE_NAME, result.database)
        # Un répertoire non vide ne se remplace pas par os.replace : l'ancien et le nouveau
        # sont échangés d'un coup (renameat2), l'ancien part avec le répertoire de travail.
        # Repli ailleurs que sous Linux : l'ancien mis de côté, puis le nouveau à sa place
        # (un court instant sans répertoire parquet/).
        if not result.parquet.is_dir():
            os.replace(parquet, result.parquet)
        elif not exchange_paths(parquet, result.parquet):
            os.replace(result.parquet, work / "ancien-parquet")
            os.replace(parquet, result.parquet)
        fsync_directory(self.analysis_dir)


def _prepare(connection) -> None:
    """Réglages et macros de chaque connexion : les macros TEMP ne se voient que de la
    connexion qui les crée (le réglage, lui, vaut pour toute la base ; le redire ne coûte
    rien)."""
    connection.execute("SET preserve_insertion_order = false")
    # Pas de barre de progression de DuckDB (sur la sortie d'erreur, dès qu'une requête
    # dure plus de 2 s) : elle salirait les journaux de cron et de scrapyd.
    connection.execute("SET enable_progress_bar = false")
    connection.execute(MACROS)


def _interrupt(cursor) -> None:
    """Arrête la requête du fil secondaire : DuckDB n'interrompt que celle de la connexion
    qui reçoit Ctrl-C, et fermer la base pendant qu'elle tourne échouerait (« connection is
    busy »), masquant l'erreur d'origine."""
    import duckdb
    try:
        cursor.interrupt()
    except duckdb.Error:
        pass  # déjà fermée : le fil a fini


def _wait(side: threading.Thread, cursor) -> None:
    """Attend le fil secondaire ; un Ctrl-C pendant l'attente l'interrompt d'abord."""
    try:
        side.join()
    except BaseException:
        _interrupt(cursor)
        side.join()
        raise


def _remove_leftovers(analysis_dir: Path) -> None:
    """Répertoires de travail d'une construction interrompue (arrêt brutal) : ceux dont le
    processus n'existe plus (une construction en cours à côté garde le sien)."""
    for entry in analysis_dir.iterdir():
        if not entry.name.startswith(WORK_PREFIX) or not entry.is_dir():
            continue
        pid = entry.name[len(WORK_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue
        shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
