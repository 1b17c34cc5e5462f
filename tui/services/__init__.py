"""Services: the app's work that needs no Textual (training session, generation streams); a test keeps Textual out."""
