"""The `wafa` command."""
