"""Serving: what gunicorn.conf.py wires in, one module per fault it answers."""
