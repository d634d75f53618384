"""The app for the live gunicorn tests, plus one slow route to keep requests in flight."""

import os
import time

from flask import request

from factory import create_app

app = create_app()


@app.get("/api/v1/test/slow")
def slow():
    time.sleep(min(float(request.args.get("s", "0")), 5.0))
    return {"pid": os.getpid()}
