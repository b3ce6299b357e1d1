"""The server-rendered dashboard, the POS screen and the customer portal."""
