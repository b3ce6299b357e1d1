"""Members-only events ("gatherings"): invitations to a segment, RSVPs with a capacity and
a waiting list, reminders, and check-in at the counter with points for attending.

The package is not called ``events``: in Wafa that word means the typed outbox events
(``wafa.core.events`` and every domain's ``events.py``).
"""
