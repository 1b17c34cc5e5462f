"""Screens: the main view and what covers it (the columns, help, the prime input, the palette, opening a corpus)."""
