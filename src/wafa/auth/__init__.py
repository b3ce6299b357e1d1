"""Staff users, roles, sessions and API keys."""
