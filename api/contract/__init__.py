"""The HTTP contract: operations, documents, parsing, rendering, conditional requests,
idempotency, pagination and errors."""
