"""Leaf modules every layer may import: the domain errors, the URL paths, and Flask's context
objects resolved once (``context``). They import nothing of the project."""
