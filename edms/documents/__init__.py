"""Controlled documents: their types (from forms/), versions, drafting, attachments and renditions."""
