"""The schema comes only from Alembic migrations, identical on SQLite and PostgreSQL."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

import edms.models  # noqa: F401
from edms.config import load_settings
from edms.db import Base, make_engine
from edms.migrate import SchemaOutOfDate, check_schema, current_revision, head_revision, upgrade


def test_migrations_bring_a_database_to_head_and_match_the_models(database_url):
    engine = make_engine(database_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_upgrade_from_empty_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_the_app_refuses_a_database_not_at_head_and_says_how_to_fix_it(database_url, tmp_path):
    from edms.app import create_app

    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'an_old_revision'"))
    with pytest.raises(SchemaOutOfDate, match="edms init"):
        check_schema(engine)
    engine.dispose()
    with pytest.raises(SchemaOutOfDate, match="an_old_revision"):
        create_app(load_settings("testing", overrides={"database_url": database_url, "data_dir": str(tmp_path)}))


@pytest.mark.req("11.300(a)-(b)")
def test_the_migration_seals_every_stored_totp_secret_under_the_server_key(database_url):
    from alembic import command

    from edms.crypto.sealing import derive_key, unseal
    from edms.migrate import alembic_config
    from edms.signatures import totp
    from edms.timeutil import utc_now

    engine = make_engine(database_url)
    command.downgrade(alembic_config(engine), "0008_session_epoch")
    secret = totp.new_secret()
    users, enrolments = Base.metadata.tables["users"], Base.metadata.tables["totp_enrolments"]
    with engine.begin() as connection:
        user_id = connection.execute(users.insert().values(
            username="akiko.tanaka", printed_name="Akiko Tanaka", title="", email="", timezone="UTC", language="en",
            active=True, created_at=utc_now(), must_change_password=False, failed_logins=0, session_epoch=0,
        )).inserted_primary_key[0]
        connection.execute(enrolments.insert().values(user_id=user_id, secret_base32=totp.to_base32(secret),
                                                      created_at=utc_now()))
    with pytest.raises(RuntimeError, match="edms init"):
        upgrade(engine)  # no server key: the clear secret is not left behind silently
    key = derive_key("a server secret", "totp secrets")
    upgrade(engine, totp_sealing_key=key)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT secret_base32 FROM totp_enrolments")).scalar_one()
    assert totp.to_base32(secret) not in stored
    assert unseal(key, stored, f"totp_enrolments.user_id={user_id}") == secret
    with engine.begin() as connection, pytest.raises(Exception, match="only the key wrapping"):
        connection.execute(text("UPDATE totp_enrolments SET secret_base32 = 'x'"))  # the guard is back
    engine.dispose()


@pytest.mark.req("ERES-authenticity")
def test_0010_makes_a_site_record_of_every_cases_free_text_site_and_keeps_what_the_case_was_opened_with(database_url):
    from alembic import command

    from edms.migrate import alembic_config
    from edms.timeutil import utc_now

    engine = make_engine(database_url)
    command.downgrade(alembic_config(engine), "0009_sealed_totp_secrets")
    users = Base.metadata.tables["users"]
    with engine.begin() as connection:
        qa = connection.execute(users.insert().values(
            username="akiko.tanaka", printed_name="Akiko Tanaka", title="", email="", timezone="Asia/Tokyo",
            language="en", active=True, created_at=utc_now(), must_change_password=False, failed_logins=0,
            session_epoch=0)).inserted_primary_key[0]
        for number, (site, zone, jurisdiction) in enumerate((
                ("Osaka University Hospital", "Asia/Tokyo", "JP"), ("Osaka University Hospital", "Asia/Tokyo", "JP"),
                ("Charité Berlin", "Europe/Berlin", "EU"), ("Charité Berlin", "Europe/Paris", "EU"),
                ("MD Anderson Cancer Center", "America/Chicago", "US")), start=1):
            connection.execute(text(
                "INSERT INTO cases (reference, regime_key, jurisdiction, product, lot, patient_ref, treating_site, "
                "site_timezone, status, created_by, created_at) VALUES (:ref, 'jp_current', :j, 'CAR-T', :lot, "
                "'PT-7Q4X', :site, :zone, 'open', :qa, :at)"),
                {"ref": f"CASE-2026-{number:04d}", "j": jurisdiction, "lot": f"L-{number}", "site": site, "zone": zone,
                 "qa": qa, "at": utc_now().replace(tzinfo=None)})
    upgrade(engine)
    with engine.connect() as connection:
        sites = {row.id: (row.name, row.timezone, row.country) for row in connection.execute(
            text("SELECT id, name, timezone, country FROM sites"))}
        cases = connection.execute(text(
            "SELECT reference, site_id, treating_site, site_timezone FROM cases ORDER BY reference")).all()
    assert sorted(sites.values()) == [
        ("Charité Berlin (Europe/Berlin)", "Europe/Berlin", "DE"), ("Charité Berlin (Europe/Paris)", "Europe/Paris", "FR"),
        ("MD Anderson Cancer Center", "America/Chicago", "US"), ("Osaka University Hospital", "Asia/Tokyo", "JP")]
    assert [sites[case.site_id][1] for case in cases] == [case.site_timezone for case in cases]
    assert cases[0].site_id == cases[1].site_id  # one site for the two Osaka cases
    assert [case.treating_site for case in cases][2:4] == ["Charité Berlin", "Charité Berlin"]  # as opened
    with engine.begin() as connection, pytest.raises(Exception, match="site"):
        connection.execute(text("UPDATE cases SET site_id = NULL"))  # a case always names its site
    engine.dispose()
