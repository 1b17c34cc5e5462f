"""tweetgen's engine: vocabulary, corpus, model, trainer, sampler, checkpoints, CLI.

Importable without Textual (a test proves it). Importing this package is cheap: torch is
imported by the submodules that need it, not here.
"""

import warnings

# torch's CPU wheel works without NumPy but warns once at import; tweetgen never needs NumPy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")


def __getattr__(name: str) -> str:
    """``core.__version__``: the installed distribution's version, so pyproject.toml is its one source.

    Looked up on first use (importlib.metadata is not cheap to import, and most processes never ask).
    """
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("tweetgen")
        except PackageNotFoundError:  # a checkout put on sys.path without being installed
            return "0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
