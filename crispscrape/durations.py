"""Une durée dite en français, à la seconde près : « 42 s », « 3 min 05 s », « 2 h 07 min ».

Partagée par la ligne de progression (extensions/progress.py), celle du direct
(extensions/live_progress.py), ``scrapy status`` (live_status.py) et les moniteurs.
"""

from __future__ import annotations


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
