"""Retention analytics: summaries, descriptive retention, RFM, CLV models and recommendations."""
