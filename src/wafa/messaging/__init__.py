"""Messaging: talk to customers by email, SMS and WhatsApp, at most once per occasion.

Start at ``queue`` (the service API other domains send through), then ``pipeline`` (how
a queued message is decided, sent and recorded), ``consent`` (who may receive what),
``policy`` (caps and quiet hours), ``rendering`` (templates) and ``channels``.
"""
