"""`python -m billbridge` runs the CLI (used by tests that kill a real child process)."""

from __future__ import annotations

from .cli import main

main()
