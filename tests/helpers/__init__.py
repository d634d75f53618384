"""Test helpers: the one home for clients, ports, servers, builders and assertions.

Fixtures live in the conftest files; everything a test imports lives here.
No test module imports a conftest or another test module.
"""
