"""Log helpers run in child processes (the rotation test)."""

from __future__ import annotations

import logging

from settings.logs import make_handler


def write_log_lines(filename: str, writer: int, count: int, max_bytes: int, backups: int) -> None:
    """Run in a child process: ``count`` numbered lines through the app's rotating file handler."""
    logger = logging.getLogger(f"rotation-test-{writer}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = make_handler("text", filename, max_bytes, backups)
    logger.addHandler(handler)
    for seq in range(count):
        logger.info("writer=%d seq=%05d %s end", writer, seq, "x" * 80)
    handler.close()
