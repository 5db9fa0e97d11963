"""Araignées Scrapy : une par export (conversations, messages, utilisateurs)."""
