"""L'état des messages tel que ``scrapy status`` le lit (crispscrape/status.py) : son format,
en mémoire compacte et en flux, est dans paging/done.py."""

from crispscrape.paging.done import DoneMarks, parse_state

__all__ = ["DoneMarks", "parse_state"]
