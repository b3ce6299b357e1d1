"""The REST API: application assembly, authentication, error mapping."""
