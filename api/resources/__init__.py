"""The resources: one module per namespace, plus the probes outside /api/v1."""
