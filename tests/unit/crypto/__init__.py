"""Tests of the pure cryptographic core (edms.crypto), with real keys and the openssl CLI."""
