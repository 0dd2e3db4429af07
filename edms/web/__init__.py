"""The server-rendered web interface: thin views over the services."""
