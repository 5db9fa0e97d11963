"""Raccourci pour les tests : le lanceur du bac à sable vit dans crispscrape/sandbox/process.py."""

from crispscrape.sandbox.process import ROOT, SandboxProcess, start_sandbox

__all__ = ["ROOT", "SandboxProcess", "start_sandbox"]
