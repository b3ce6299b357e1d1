"""Feedback: surveys (NPS, CSAT, CES), the complaint log with its SLA timers, compensation."""
