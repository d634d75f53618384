"""Test helpers: one home for clients, launchers and builders (no fixtures here)."""
