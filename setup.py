"""Paquetage de crispscrape : sert à construire l'œuf déployé sur scrapyd.

Versionné exprès : scrapyd-deploy n'en génère alors pas un de son cru.
"""
from setuptools import find_packages, setup

setup(
    name="crispscrape",
    version="0.1.0",
    packages=find_packages(include=["crispscrape", "crispscrape.*"]),
    entry_points={"scrapy": ["settings = crispscrape.settings"]},
    zip_safe=False,
)
