"""tweetgen benchmarks (issue 4): quality at a fixed budget, training throughput, sampling,
the app's start-up and event-loop lag, memory and corpus scaling.

Run ``python -m bench`` (about 8 minutes) or ``python -m bench --quick`` (under a minute).
Every measurement that is sensitive to the machine runs in a fresh subprocess with
``torch.set_num_threads(2)``, so peak RSS is per measurement and nothing warms up another.
Headline figures are ratios measured side by side in the same run.
"""

import warnings

# torch's CPU wheel warns once at import when NumPy is absent; the bench never needs NumPy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
