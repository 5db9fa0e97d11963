"""Les chiffres du rapport, lus dans la base d'analyse (une connexion DuckDB ouverte).

Semaines ISO (lundi), heures et jours en UTC : les horodatages de Crisp le sont.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Tranches des durées de résolution : (borne haute en secondes, libellé).
RESOLUTION_BUCKETS = ((3600, "< 1 h"), (4 * 3600, "1–4 h"), (24 * 3600, "4–24 h"),
                      (3 * 86400, "1–3 j"), (7 * 86400, "3–7 j"), (None, "≥ 7 j"))
TOP_OPERATORS = 15


@dataclass
class Durations:
    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass
class Figures:
    conversations: int = 0
    messages: int = 0
    people: int = 0
    first_message: str | None = None
    last_message: str | None = None
    # (semaine « 2025-W03 », conversations créées, messages)
    weeks: list[tuple[str, int, int]] = field(default_factory=list)
    first_response: Durations = field(default_factory=Durations)
    unanswered: int = 0
    # (semaine, médiane du premier délai de réponse en secondes)
    response_trend: list[tuple[str, float]] = field(default_factory=list)
    resolution: Durations = field(default_factory=Durations)
    resolved: int = 0
    resolution_buckets: list[tuple[str, int]] = field(default_factory=list)
    # heatmap[jour 0 = lundi][heure] = messages des visiteurs
    heatmap: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in range(7)])
    operators: list[tuple[str, int]] = field(default_factory=list)
    other_operators: int = 0
    with_email: int = 0
    with_profile: int = 0
    files_ok: int = 0
    files_failed: int = 0
    files_bytes: int = 0
    files_indexed: bool = False


def _durations(connection, query: str) -> Durations:
    count, median, p90 = connection.execute(
        f"SELECT count(x), median(x), quantile_cont(x, 0.9) FROM ({query}) t(x)").fetchone()
    return Durations(count, median, p90)


def read_figures(connection, files_indexed: bool) -> Figures:
    sql = connection.execute
    figures = Figures(files_indexed=files_indexed)
    figures.conversations, figures.with_email, figures.with_profile = sql(
        "SELECT count(*), count(*) FILTER (has_email), count(*) FILTER (has_profile) "
        "FROM conversations").fetchone()
    figures.messages, first, last = sql(
        "SELECT count(*), min(time), max(time) FROM messages").fetchone()
    figures.first_message = first.strftime("%d/%m/%Y") if first else None
    figures.last_message = last.strftime("%d/%m/%Y") if last else None
    figures.people = sql("SELECT count(*) FROM people").fetchone()[0]
    figures.weeks = [tuple(row) for row in sql("""
        WITH c AS (SELECT date_trunc('week', created_at) AS w, count(*) AS n FROM conversations
                   WHERE created_at IS NOT NULL GROUP BY 1),
             m AS (SELECT date_trunc('week', time) AS w, count(*) AS n FROM messages
                   WHERE time IS NOT NULL GROUP BY 1)
        SELECT strftime(w, '%G-S%V'), coalesce(c.n, 0), coalesce(m.n, 0)
        FROM c FULL JOIN m USING (w) ORDER BY w""").fetchall()]
    figures.first_response = _durations(
        connection, "SELECT first_response_seconds FROM first_response "
                    "WHERE first_response_seconds IS NOT NULL")
    figures.unanswered = sql("SELECT count(*) FROM first_response "
                             "WHERE answered_at IS NULL").fetchone()[0]
    figures.response_trend = [tuple(row) for row in sql("""
        SELECT strftime(date_trunc('week', asked_at), '%G-S%V'), median(first_response_seconds)
        FROM first_response WHERE first_response_seconds IS NOT NULL
        GROUP BY date_trunc('week', asked_at) ORDER BY date_trunc('week', asked_at)""").fetchall()]
    figures.resolution = _durations(
        connection, "SELECT resolution_seconds FROM resolution_time "
                    "WHERE resolution_seconds IS NOT NULL")
    figures.resolved = sql("SELECT count(*) FILTER (resolved) FROM resolution_time").fetchone()[0]
    figures.resolution_buckets = _buckets(connection)
    for day, hour, count in sql("""
            SELECT isodow(time) - 1, hour(time), count(*) FROM messages
            WHERE "from" = 'user' AND time IS NOT NULL GROUP BY ALL""").fetchall():
        figures.heatmap[day][hour] = count
    operators = sql("""
        SELECT coalesce(operator, operator_id, '(sans nom)'), count(*) FROM messages
        WHERE "from" = 'operator' GROUP BY 1 ORDER BY 2 DESC, 1""").fetchall()
    figures.operators = [tuple(row) for row in operators[:TOP_OPERATORS]]
    figures.other_operators = sum(count for _, count in operators[TOP_OPERATORS:])
    figures.files_ok, figures.files_failed, figures.files_bytes = sql(
        "SELECT count(*) FILTER (kept), count(*) FILTER (NOT kept OR kept IS NULL), "
        "coalesce(sum(size) FILTER (kept), 0) FROM files").fetchone()
    return figures


def _buckets(connection) -> list[tuple[str, int]]:
    values = [row[0] for row in connection.execute(
        "SELECT resolution_seconds FROM resolution_time "
        "WHERE resolution_seconds IS NOT NULL").fetchall()]
    counts = []
    low = 0.0
    for high, label in RESOLUTION_BUCKETS:
        counts.append((label, sum(1 for value in values
                                  if value >= low and (high is None or value < high))))
        low = high or 0.0
    return counts


def duration_text(seconds: float | None) -> str:
    """Une durée lisible en français : « 42 s », « 7 min », « 3 h 05 », « 2,5 j »."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        hours, minutes = divmod(round(seconds / 60), 60)
        return f"{hours} h {minutes:02d}"
    return f"{seconds / 86400:.1f} j".replace(".", ",")


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "—"
