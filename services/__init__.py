"""Business logic: plain functions over the models. Nothing here knows of HTTP."""
