import os

import pytest

# No test may reach a hub or W&B servers.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")


@pytest.fixture(scope="session")
def scripted_server():
    from tests.scripted_model import ScriptedServer

    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance for the session's Ray tests (starting Ray costs ~15 s here)."""
    import ray

    from factory.executors.ray_data import init_ray
    from factory.config import load_config

    init_ray(load_config([]).cluster)
    yield ray
    ray.shutdown()
