"""The server-rendered dashboard and the point-of-sale screen."""
