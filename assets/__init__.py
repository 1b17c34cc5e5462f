"""The demo corpus and checkpoint, as a package so that they ship in the wheel.

pyproject.toml maps this folder onto ``core._assets`` and lists ``demo_tweets.txt`` and
``demo.pt`` as its package data; :mod:`core.assets` finds them with ``importlib.resources``.
Nothing here is meant to be imported for its code.
"""
