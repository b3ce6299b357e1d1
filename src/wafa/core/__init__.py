"""Core: settings, database, money, time, ids, errors, the outbox and security."""
