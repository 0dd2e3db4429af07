"""People, their roles, credentials and sessions."""
