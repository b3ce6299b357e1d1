"""Surprise rewards for a segment chosen by hand: messaging picks the people (its segments),
loyalty's surprise service gives (once per person, segment and quarter; within the rule's
monthly budget). Also the owner's Surprises page, which reads both."""
