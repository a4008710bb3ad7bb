"""Executors run the same stages in-process (`local`) or on Ray Data (`ray`); they differ only in scheduling."""


def make_executor(cfg):
    """Build the executor named by `cfg.executor` (local | ray)."""
    if cfg.executor == "local":
        from factory.executors.local import LocalExecutor

        return LocalExecutor()
    if cfg.executor == "ray":
        from factory.executors.ray_data import RayExecutor

        return RayExecutor(cfg.cluster)
    raise ValueError(f"executor={cfg.executor!r}: expected 'local' or 'ray'")
