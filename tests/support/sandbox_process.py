"""Raccourci pour les tests : le lanceur du bac à sable vit dans crispsandbox/process.py."""

from crispsandbox.process import SandboxProcess, repository_root, start_sandbox

ROOT = repository_root()

__all__ = ["ROOT", "SandboxProcess", "start_sandbox"]
