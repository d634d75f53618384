"""marshmallow schemas: the single source of truth for input, output and Swagger."""
