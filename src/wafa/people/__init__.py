"""Whole-person operations and the pages that span domains: merge, export, erase, the profile."""
