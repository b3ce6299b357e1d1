"""Campaigns: one message to every customer of a segment, with a holdout group.

A campaign is composed (name, segment, channel, subject and body per locale, an optional
personal coupon, a schedule) and then sent. Sending is two steps, each safe to repeat:

* :func:`.service.start_sending` (the request): a guarded ``UPDATE`` moves the draft to
  ``queuing`` exactly once, and one ``INSERT … SELECT`` snapshots the segment's members
  into ``messaging_campaign_recipients`` (the database does the work; nothing is held in
  memory).
* :func:`.service.queue_next_batch` (the worker, :mod:`.jobs`): recipients in customer-id
  order, ``BATCH`` at a time, one transaction each: the holdout is drawn (a keyed hash of
  the campaign's seed and the customer, so it is random, stored per customer and
  reproducible), coupons are issued through the loyalty service, and one message per
  recipient is queued with ``occasion = campaign id``. The cursor moves in the same
  transaction; a crash loses at most the batch, which the next pass queues again, and the
  messages' unique key ``(customer, reason, occasion)`` makes a repeat a no-op.

Pause, resume and cancel act on the campaign row first (a row lock that a queuing batch
also takes) and then on its messages (``wafa.messaging.queue``). The report
(:mod:`.report`) compares recipients with the held-out customers.
"""
