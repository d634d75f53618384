"""Reference apps that serve the project's benchmark requests (see bench/README.md)."""
