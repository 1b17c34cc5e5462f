"""tweetgen's engine: vocabulary, corpus, model, trainer, sampler, checkpoints, CLI.

Importable without Textual (a test proves it). Importing this package is cheap: torch is
imported by the submodules that need it, not here.
"""

import warnings

# torch's CPU wheel works without NumPy but warns once at import; tweetgen never needs NumPy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

__version__ = "0.1.0"
