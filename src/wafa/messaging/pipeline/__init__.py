"""The send pipeline: take due messages, decide, send, record — at most once, by design.

A worker repeats, a group of ``group`` messages at a time:

1. **Take and decide** (one transaction). Due ``queued`` messages are locked
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers share the queue;
   SQLite has one writer). For each, at that moment: the customer still exists; the
   address is not suppressed; marketing has consent for the channel and topic, is not
   blocked by a frequency cap or a competing message of higher priority, and is not in
   quiet hours; the template renders. Messages that may not go are ``skipped`` with the
   reason, or put back with a later ``not_before`` (held). The others become
   ``sending``, marked with the worker's id (``sending_at``, from which frequency caps
   count). Commit.
2. **Send**, spread over the channel's connections (a thread each). Each connection
   first marks its next few messages (``HANDOVER_CHUNK``, 10) as handed over
   (``handed_at``, one guarded ``UPDATE``, committed: a write-ahead mark) and then hands
   over one after another only those the mark took: the mark takes only where the
   message is still ``sending``, this worker's and unmarked.
3. **Record** (one transaction): ``sent``; ``failed`` (a 5xx suppresses the address);
   a temporary failure goes back to ``queued`` with a backoff (the message was not
   handed over, so sending it later cannot duplicate it) until the retries or the
   address's soft-failure allowance run out; ``unknown`` when the channel cannot tell.
   A message whose mark did not take is not this worker's any more: nothing is written.

A worker that dies after step 1 leaves ``sending`` rows behind. Workers beat a heart
(``messaging_workers.seen_at``, also between messages of a group); the rows of a worker
silent for ``WAFA_SEND_LAPSE_SECONDS`` (two minutes) are settled by whichever worker
looks next: those marked as handed over may have reached the server and become
``unknown`` — never sent again, and shown to the owner; those without the mark were
never handed over and go back to ``queued`` (the take undone), to be decided again.
A message therefore reaches the server at most once, and a crash leaves ``unknown``
only the messages handed over but not yet recorded, and at most ``HANDOVER_CHUNK`` per
connection marked but not handed; everything else in its hand is sent later. Every
status change is guarded by the worker's id, so a worker wrongly presumed dead cannot
overwrite what another decided, nor hand over what another put back.

Modules: ``worker`` (the ``Pipeline``: take, decide, send, record, heartbeat and lapse),
``group`` (what a group's decisions read, and the frequency-cap rule), ``outcomes``
(what a channel's answer does to a message), ``compose``
(rendering a message for one customer, shared with the template preview).
"""

from __future__ import annotations

from wafa.messaging.pipeline.compose import LIST_UNSUBSCRIBE_POST, compose
from wafa.messaging.pipeline.worker import Pipeline, Report

__all__ = ["LIST_UNSUBSCRIBE_POST", "Pipeline", "Report", "compose"]
