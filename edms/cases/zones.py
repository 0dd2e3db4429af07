"""The zone a record's dates and times are shown in: its case's site's, so that one signature reads the
same to everyone who opens or downloads it, wherever they are. A record outside any case has no site: it is
shown in the reader's zone (always with the zone named)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.cases import models as cm
from edms.documents import models as dm
from edms.sites.models import Site


def case_zone(session: Session, case_id: int | None) -> str | None:
    if case_id is None:
        return None
    return session.scalar(select(Site.timezone).join(cm.Case, cm.Case.site_id == Site.id).where(cm.Case.id == case_id))


def record_zone(session: Session, document: dm.Document) -> str | None:
    return case_zone(session, document.case_id)


def display_zone(session: Session, document: dm.Document, reader_zone: str) -> str:
    return record_zone(session, document) or reader_zone
