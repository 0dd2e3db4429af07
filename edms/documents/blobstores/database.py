"""Blobs in the database (table `blob_contents`): replicated with it, the default with PostgreSQL, so every
app node serves every stored file and a standby holds them as it holds the records.

Each put is its own short transaction, committed before the put returns, so before the record that refers
to the blob is committed: a crash between the two leaves an orphan blob (harmless, content-addressed), never a
record pointing at a missing one. The table is append-only (triggers of `edms.audit.immutability`).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import BigInteger, Engine, LargeBinary, String, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from edms.db import Base, UTCDateTime
from edms.documents.blobstores.base import BlobCorrupted, BlobNotFound, checked
from edms.timeutil import utc_now

_PAGE = 1000


class BlobContent(Base):
    __tablename__ = "blob_contents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


_table = BlobContent.__table__


class DatabaseBlobStore:
    """Content-addressed rows, inserted if absent, re-hashed on every read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __repr__(self) -> str:
        return f"DatabaseBlobStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def put(self, data: bytes, *, retain_until: datetime | None = None) -> str:
        # Rows are never deleted (append-only): retention needs no date here.
        digest = hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return digest  # the bytes cross the network once
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(_table).values(sha256=digest, content=data, size=len(data), created_at=utc_now())
        with self.engine.begin() as connection:
            # A concurrent put of the same bytes inserts first: this one then does nothing.
            connection.execute(statement.on_conflict_do_nothing(index_elements=["sha256"]))
        return digest

    def get(self, sha256: str) -> bytes:
        with self.engine.connect() as connection:
            data = connection.execute(select(_table.c.content).where(_table.c.sha256 == checked(sha256))).scalar()
        if data is None:
            raise BlobNotFound(sha256)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobCorrupted(f"blob {sha256} does not match its hash")
        return bytes(data)

    def exists(self, sha256: str) -> bool:
        with self.engine.connect() as connection:
            return connection.execute(select(_table.c.sha256).where(_table.c.sha256 == checked(sha256))).first() is not None

    def iter_hashes(self) -> Iterator[str]:
        last = ""
        while True:  # page by key: no connection held open while the caller works on each name
            with self.engine.connect() as connection:
                page = connection.execute(select(_table.c.sha256).where(_table.c.sha256 > last)
                                          .order_by(_table.c.sha256).limit(_PAGE)).scalars().all()
            yield from page
            if len(page) < _PAGE:
                return
            last = page[-1]

    def verify(self, sha256: str) -> bool:
        """True only if the row exists and its bytes still hash to its name. PostgreSQL hashes in the server
        (sha256(bytea)), so the bytes never travel; SQLite reads them back."""
        where = _table.c.sha256 == checked(sha256)
        with self.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                found = connection.execute(select(func.encode(func.sha256(_table.c.content), "hex")).where(where)).scalar()
                return found == sha256
            data = connection.execute(select(_table.c.content).where(where)).scalar()
        return data is not None and hashlib.sha256(data).hexdigest() == sha256
