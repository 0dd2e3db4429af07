"""The `edms` command line. Each module of this package adds its commands to the one group."""
from edms.cli import blobs, commands, database, worker  # noqa: F401  (registers the commands on the group)
from edms.cli.group import main

__all__ = ["main"]
