"""The ceiling: bare Flask + PyMySQL serving the benchmark's requests.

No ORM, no schemas, no RESTX, no hooks: raw SQL on one autocommit connection per thread
and ``json.dumps``. Run by ``bench/run.py`` under gunicorn (sync workers, and gthread) as
``bench.baselines.bare_flask:app``; ``BENCH_DB_NAME`` names the database.
"""

import json
import os
import threading
import uuid
from datetime import UTC, datetime

import pymysql
from flask import Flask, Response, abort, request

app = Flask(__name__)
_local = threading.local()
COLUMNS = "id, name, age, created_at, updated_at"


def connection():
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = pymysql.connect(
            host=os.environ.get("BENCH_DB_HOST", "127.0.0.1"),
            port=int(os.environ.get("BENCH_DB_PORT", "3306")),
            user=os.environ.get("BENCH_DB_USER", "root"),
            password=os.environ.get("BENCH_DB_PASSWORD", ""),
            database=os.environ["BENCH_DB_NAME"],
            charset="utf8mb4",
            autocommit=True,
        )
    return conn


def row_json(row) -> dict:
    return {
        "id": row[0],
        "name": row[1],
        "age": row[2],
        "created_at": row[3].isoformat() + "+00:00",
        "updated_at": row[4].isoformat() + "+00:00",
    }


def json_response(body, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@app.get("/healthz")
def healthz():
    return json_response({"status": "ok"})


@app.get("/api/v1/wdtests/<wdtest_id>")
def get_one(wdtest_id):
    with connection().cursor() as cur:
        cur.execute(f"SELECT {COLUMNS} FROM wdtest WHERE id = %s", (wdtest_id,))
        row = cur.fetchone()
    if row is None:
        abort(404)
    return json_response(row_json(row))


@app.get("/api/v1/wdtests")
def get_page():
    page = int(request.args.get("page", 1))
    per_page = int(request.args.get("per_page", 20))
    with connection().cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM wdtest")
        total = cur.fetchone()[0]
        cur.execute(
            f"SELECT {COLUMNS} FROM wdtest ORDER BY id LIMIT %s OFFSET %s", (per_page, (page - 1) * per_page)
        )
        rows = cur.fetchall()
    body = {
        "items": [row_json(r) for r in rows],
        "page": page,
        "per_page": per_page,
        "pages": -(-total // per_page),
        "total": total,
    }
    return json_response(body)


@app.post("/api/v1/wdtests")
def create():
    data = request.get_json()
    name, age = data.get("name"), data.get("age")
    if not isinstance(name, str) or not 1 <= len(name) <= 20 or not (age is None or isinstance(age, int)):
        abort(400)
    now = datetime.now(UTC).replace(tzinfo=None)
    row = (data.get("id") or str(uuid.uuid4()), name, age, now, now)
    with connection().cursor() as cur:
        cur.execute(f"INSERT INTO wdtest ({COLUMNS}) VALUES (%s, %s, %s, %s, %s)", row)
    return json_response(row_json(row), 201)
