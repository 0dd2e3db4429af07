"""The OOS compassionate-use case file: regimes, gates and deadlines."""
