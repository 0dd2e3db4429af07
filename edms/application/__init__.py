"""Use cases: one module per thing a person or a command does; the only layer web, API and CLI call."""
