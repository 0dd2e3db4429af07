"""Jobs: long work (inspection packages, outbox delivery, escalations, archive time-stamps) queued in the
database and run by `edms worker` (or, with SQLite, a background thread of the server), never in a request."""
