"""crispscrape : export d'un compte Crisp en fichiers JSONL, avec Scrapy."""
