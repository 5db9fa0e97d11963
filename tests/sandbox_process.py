"""Raccourci pour les tests : le lanceur du bac à sable vit dans crispsandbox/process.py."""

from crispsandbox.process import ROOT, SandboxProcess, start_sandbox

__all__ = ["ROOT", "SandboxProcess", "start_sandbox"]
