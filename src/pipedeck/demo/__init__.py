"""The sample application `pipedeck demo` creates: a real git repository with history."""

from pipedeck.demo.sample import DEMO_PIPELINE, create_demo_repo

__all__ = ["DEMO_PIPELINE", "create_demo_repo"]
