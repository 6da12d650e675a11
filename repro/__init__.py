"""repro: turn a research repository into a runnable, portable, tested Docker image."""

__version__ = "0.1.0"
