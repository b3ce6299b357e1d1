"""The send pipeline: take due messages, decide, send, record — at most once, by design.

A worker repeats, a group of ``group`` messages at a time:

1. **Take and decide** (one transaction). Due ``queued`` messages are locked
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers share the queue;
   SQLite has one writer). For each, at that moment: the customer still exists; the
   address is not suppressed; marketing has consent for the channel and topic, is not
   blocked by a frequency cap or a competing message of higher priority, and is not in
   quiet hours; the template renders. Messages that may not go are ``skipped`` with the
   reason, or put back with a later ``not_before`` (held). The others become
   ``sending``, marked with the worker's id. Commit.
2. **Send**, outside any transaction, one message after another through the channel.
3. **Record** (one transaction): ``sent``; ``failed`` (a 5xx suppresses the address);
   a temporary failure goes back to ``queued`` with a backoff (the message was not
   handed over, so sending it later cannot duplicate it) until the retries or the
   address's soft-failure allowance run out; ``unknown`` when the channel cannot tell.

A worker that dies after step 1 leaves ``sending`` rows behind. Workers beat a heart
(``messaging_workers.seen_at``, also between messages of a group); the rows of a worker
silent for ``WAFA_SEND_LAPSE_SECONDS`` (two minutes) are settled as
``unknown`` by whichever worker looks next — never sent again, and shown to the owner.
A message therefore reaches the server at most once, and a crash loses at most the
messages of one group in flight, visibly. Every status change is guarded by the
worker's id, so a worker wrongly presumed dead cannot overwrite what another decided.

Modules: ``worker`` (the ``Pipeline``: take, decide, send, record, heartbeat and lapse),
``group`` (what a group's decisions read, and the frequency-cap rule), ``outcomes``
(what a channel's answer does to a message), ``compose``
(rendering a message for one customer, shared with the template preview).
"""

from __future__ import annotations

from wafa.messaging.pipeline.compose import LIST_UNSUBSCRIBE_POST, compose
from wafa.messaging.pipeline.worker import Pipeline, Report

__all__ = ["LIST_UNSUBSCRIBE_POST", "Pipeline", "Report", "compose"]
