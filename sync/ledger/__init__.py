"""The ledger: SQLAlchemy tables, migrations and bulk access (SQLite or PostgreSQL)."""
