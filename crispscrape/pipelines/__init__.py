"""Pipelines : déduplication puis écriture des fichiers JSONL."""
