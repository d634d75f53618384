"""Leaf modules every layer may import: the domain errors and the URL paths. They import
nothing of the project."""
