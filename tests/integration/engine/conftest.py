"""Engine integration tests run on both stores, with the e2e tests' `state_url` fixture."""

from ...e2e.conftest import state_url

__all__ = ["state_url"]
