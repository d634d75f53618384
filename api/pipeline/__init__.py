"""The request pipeline: hooks, auth, rate limits, metrics, CORS and proxies, sessions."""
