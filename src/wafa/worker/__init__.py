"""``wafa worker``: drains the outbox consumers and runs the timed jobs."""
