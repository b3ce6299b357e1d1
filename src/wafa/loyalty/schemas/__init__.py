"""Loyalty shapes: ``program`` (the rules document) and ``io`` (API and service bodies)."""
