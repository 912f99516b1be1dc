"""The console: a Textual app over the engine. It draws and asks; the engine does."""
