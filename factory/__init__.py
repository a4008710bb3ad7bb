"""Sol-Ver data factory: one model writes solutions and tests; a sandbox cross-verifies them."""

__version__ = "0.1.0"
