"""The URL paths every layer names: the versioned API's prefix and its two documents (and their versions)."""

API_PREFIX = "/api/v1"
SWAGGER_PATH = f"{API_PREFIX}/swagger.json"  # Flask-RESTX serves it
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"  # beside it
DOCUMENT_PATHS = frozenset((SWAGGER_PATH, OPENAPI_PATH))
SWAGGER_2 = "2.0"  # the documents' versions: what api.contract.openapi builds
OPENAPI_3 = "3.1.0"


def is_api_operation(path: str) -> bool:
    """Whether ``path`` is an operation of the versioned API: what auth and rate limits cover.
    The documents, the docs page, the probes and /metrics are not."""
    return path.startswith(f"{API_PREFIX}/") and path not in DOCUMENT_PATHS
