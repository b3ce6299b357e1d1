"""The customer's own pages, reached by a signed link: points, rewards, history, preferences."""
