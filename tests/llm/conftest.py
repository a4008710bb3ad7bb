import pytest


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory):
    """The tiny preset, built once per test session into a private cache (never the user's)."""
    from factory.llm.models import resolve_model

    return resolve_model({"source": "tiny", "cache_dir": str(tmp_path_factory.mktemp("models"))})
