"""Tests de bout en bout : vrais crawls contre le bac à sable, scrapyd, démonstration."""
