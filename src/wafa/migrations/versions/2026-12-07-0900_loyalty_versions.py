"""loyalty: a version per member and one for the catalogue, raised by the database itself

Revision ID: c7d1e2f3a4b5
Revises: 7a3e5c1d9b62
Create Date: 2026-12-07 09:00:00+00:00

``loyalty_accounts.version`` goes up on every change of the account row and of any of the
member's loyalty rows (points entries and lots, coupons, stamp progress, badges, purchases,
redemptions); ``loyalty_catalogue_version`` (one row) on every change of the rewards, the
stamp cards and the program's versions. Triggers do it, so that every writer (the ORM,
bulk statements, another domain's handler, a hand-written fix) raises them: a page cached
on these versions (the portal's home page) can never outlive a change.

On PostgreSQL the member triggers run once per statement over its transition tables and
lock the accounts they raise in id order (as ``ledger.lock_accounts`` does), so a bulk
statement costs one more ``UPDATE`` and cannot deadlock with a writer taking the same
locks in order. On SQLite (one writer at a time) they run per row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c7d1e2f3a4b5"
down_revision: str | Sequence[str] | None = "7a3e5c1d9b62"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEMBER_TABLES = (
    "points_entries",
    "points_lots",
    "loyalty_coupons",
    "loyalty_stamp_progress",
    "loyalty_badges",
    "loyalty_purchases",
    "loyalty_redemptions",
)
CATALOGUE_TABLES = ("loyalty_rewards", "loyalty_stamp_cards", "loyalty_program_versions")
EVENTS = ("insert", "update", "delete")

PG_MEMBER = """
CREATE OR REPLACE FUNCTION loyalty_member_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM 1 FROM loyalty_accounts
      WHERE customer_id IN (SELECT customer_id FROM new_rows) ORDER BY customer_id FOR UPDATE;
    UPDATE loyalty_accounts SET version = version + 1
      WHERE customer_id IN (SELECT customer_id FROM new_rows);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM 1 FROM loyalty_accounts
      WHERE customer_id IN (SELECT customer_id FROM old_rows) ORDER BY customer_id FOR UPDATE;
    UPDATE loyalty_accounts SET version = version + 1
      WHERE customer_id IN (SELECT customer_id FROM old_rows);
  ELSE
    PERFORM 1 FROM loyalty_accounts
      WHERE customer_id IN (SELECT customer_id FROM new_rows
                            UNION SELECT customer_id FROM old_rows)
      ORDER BY customer_id FOR UPDATE;
    UPDATE loyalty_accounts SET version = version + 1
      WHERE customer_id IN (SELECT customer_id FROM new_rows
                            UNION SELECT customer_id FROM old_rows);
  END IF;
  RETURN NULL;
END $$
"""
# The account's own changes: every UPDATE of the row raises it by one (the member
# triggers' own UPDATE included, so they raise it by one too).
PG_ACCOUNT = """
CREATE OR REPLACE FUNCTION loyalty_account_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  RETURN NEW;
END $$
"""
PG_CATALOGUE = """
CREATE OR REPLACE FUNCTION loyalty_catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO loyalty_catalogue_version (id, version) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET version = loyalty_catalogue_version.version + 1;
  RETURN NULL;
END $$
"""
# An upsert: a row deleted by hand (or by a test emptying every table) comes back at the
# next change; readers cache nothing while it is missing.


def _pg_upgrade() -> None:
    op.execute(PG_MEMBER)
    op.execute(PG_ACCOUNT)
    op.execute(PG_CATALOGUE)
    for table in MEMBER_TABLES:
        for event in EVENTS:
            tables = {
                "insert": "NEW TABLE AS new_rows",
                "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                "delete": "OLD TABLE AS old_rows",
            }[event]
            op.execute(
                f"CREATE TRIGGER {table}_version_{event} AFTER {event.upper()} ON {table} "
                f"REFERENCING {tables} FOR EACH STATEMENT "
                "EXECUTE FUNCTION loyalty_member_changed()"
            )
    op.execute(
        "CREATE TRIGGER loyalty_accounts_version BEFORE UPDATE ON loyalty_accounts "
        "FOR EACH ROW EXECUTE FUNCTION loyalty_account_changed()"
    )
    for table in CATALOGUE_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION loyalty_catalogue_changed()"
        )


def _sqlite_upgrade() -> None:
    raise_member = "UPDATE loyalty_accounts SET version = version + 1 WHERE customer_id = {}.customer_id;"
    for table in MEMBER_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_version_insert AFTER INSERT ON {table} BEGIN "
            + raise_member.format("NEW")
            + " END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_version_update AFTER UPDATE ON {table} BEGIN "
            + raise_member.format("NEW")
            + " "
            + raise_member.format("OLD").replace(
                ";", " AND OLD.customer_id IS NOT NEW.customer_id;"
            )
            + " END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_version_delete AFTER DELETE ON {table} BEGIN "
            + raise_member.format("OLD")
            + " END"
        )
    # SQLite cannot change NEW: the row is raised again after an update that left its
    # version as it was (recursive triggers are off, and the WHEN clause stops a loop).
    op.execute(
        "CREATE TRIGGER loyalty_accounts_version AFTER UPDATE ON loyalty_accounts "
        "WHEN NEW.version = OLD.version BEGIN "
        "UPDATE loyalty_accounts SET version = OLD.version + 1 "
        "WHERE customer_id = NEW.customer_id; END"
    )
    for table in CATALOGUE_TABLES:
        for event in EVENTS:
            op.execute(
                f"CREATE TRIGGER {table}_version_{event} AFTER {event.upper()} ON {table} "
                "BEGIN INSERT INTO loyalty_catalogue_version (id, version) VALUES (1, 1) "
                "ON CONFLICT (id) DO UPDATE SET version = version + 1; END"
            )


def upgrade() -> None:
    with op.batch_alter_table("loyalty_accounts") as batch:
        batch.add_column(
            sa.Column("version", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
    op.create_table(
        "loyalty_catalogue_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_catalogue_version")),
    )
    op.execute("INSERT INTO loyalty_catalogue_version (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        _pg_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in MEMBER_TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_version_{event} ON {table}")
        op.execute("DROP TRIGGER IF EXISTS loyalty_accounts_version ON loyalty_accounts")
        for table in CATALOGUE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_version ON {table}")
        for name in ("member", "account", "catalogue"):
            op.execute(f"DROP FUNCTION IF EXISTS loyalty_{name}_changed()")
    else:
        for table in MEMBER_TABLES + CATALOGUE_TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_version_{event}")
        op.execute("DROP TRIGGER IF EXISTS loyalty_accounts_version")
    op.drop_table("loyalty_catalogue_version")
    with op.batch_alter_table("loyalty_accounts") as batch:
        batch.drop_column("version")
