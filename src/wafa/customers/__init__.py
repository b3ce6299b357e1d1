"""Customers: one profile per person across channels, identity matching, merging, consent."""
