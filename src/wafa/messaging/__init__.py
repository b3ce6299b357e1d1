"""Messaging: talk to customers by email, SMS and WhatsApp, at most once per occasion.

Start at ``queue`` (the service API other domains send through), then ``pipeline`` (how
a queued message is decided, sent and recorded), ``consent`` (who may receive what),
``policy`` (caps and quiet hours), ``rendering`` (templates) and ``channels``.

Beside that core, in their own subpackages: ``segments`` (who: a rule over profile,
orders, loyalty and predictions, compiled to one SQL query) and ``campaigns`` (what,
when and to whom, with a holdout group to measure what it changed).
"""
