"""A real sandbox (the configured default, bubblewrap) shared by the tests of a module."""

import pytest


@pytest.fixture(scope="session")
def sandbox():
    from factory.config import load_config
    from factory.sandbox import make_sandbox

    box = make_sandbox(load_config([]).sandbox)
    yield box
    box.close()
