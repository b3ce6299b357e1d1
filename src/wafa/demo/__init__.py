"""The demo store: a café-roastery with two shops and an online shop, two years of history.

``generator`` draws the data from a seeded ``numpy.random.Generator``; ``store`` writes
it through the real services and the import bulk writer, and runs the demo extensions
(``DEMO_EXTENSIONS``: each module's ``populate(session, *, settings, seed)``).
"""
