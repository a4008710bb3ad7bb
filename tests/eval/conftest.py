import pytest

from factory.config import load_config


@pytest.fixture(scope="session")
def sandbox():
    """One real local sandbox for the whole eval suite: starting its workers is the costly part."""
    from factory.sandbox import make_sandbox

    cfg = load_config(["sandbox.timeout=3"])
    with make_sandbox(cfg.sandbox) as box:
        yield box
