"""Which hidden units track which character features: find them, report them, cache per checkpoint. No Textual."""
