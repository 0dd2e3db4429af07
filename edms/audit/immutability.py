"""Database triggers that make protected tables append-only, on SQLite and PostgreSQL.

Migrations call these so that even SQL typed by hand cannot quietly change or delete a protected row;
an attacker who bypasses the triggers is still caught by the hash chain and `edms verify`.
"""
from __future__ import annotations


def protect_statements(dialect: str, table: str, operations: tuple[str, ...] = ("UPDATE", "DELETE")) -> list[str]:
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
            for op in operations
        ]
    if dialect == "postgresql":
        statements = [
            "CREATE OR REPLACE FUNCTION edms_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$"
        ]
        for op in operations:
            statements.append(
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION edms_refuse_change()"
            )
        if "DELETE" in operations:
            statements.append(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION edms_refuse_change()"
            )
        return statements
    raise ValueError(f"unsupported database dialect {dialect!r}")


def unprotect_statements(dialect: str, table: str, operations: tuple[str, ...] = ("UPDATE", "DELETE")) -> list[str]:
    names = [f"{table}_no_{op.lower()}" for op in operations]
    if dialect == "postgresql" and "DELETE" in operations:
        names.append(f"{table}_no_truncate")
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {name} ON {table}" for name in names]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in names]
