"""tweetgen-tui: the Textual app that trains a character GRU and streams what it writes.

Start at :mod:`tui.app` (the App and every key binding). Each panel is its own module;
every message a worker sends to the UI is in :mod:`tui.messages`. Nothing here imports
torch at module level, so the first frame is drawn before torch has loaded.
"""
