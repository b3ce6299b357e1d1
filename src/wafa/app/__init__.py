"""The assembly: every domain's declaration, and the app, worker and metadata built from them."""
