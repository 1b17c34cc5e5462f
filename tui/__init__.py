"""tweetgen-tui: the Textual app that trains a character GRU and streams what it writes.

Start at :mod:`tui.app` (the App, which wires everything) and :mod:`tui.keys` (every key).
Screens are in :mod:`tui.screens`, one module per panel in :mod:`tui.widgets`, and the work
that needs no Textual in :mod:`tui.services`; every message a worker sends to the UI is in
:mod:`tui.messages`. Nothing here imports
torch at module level, so the first frame is drawn before torch has loaded.
"""
