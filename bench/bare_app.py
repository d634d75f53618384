"""The baseline for bench/hot_path.py: bare Flask + PyMySQL serving the same two reads.

No ORM, no schemas, no RESTX: one PyMySQL connection per thread and jsonify.
Run by the benchmark under gunicorn as ``bench.bare_app:app``.
"""

import os
import threading

import pymysql
from flask import Flask, abort, jsonify, request

app = Flask(__name__)
_local = threading.local()


def connection():
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = pymysql.connect(
            host=os.environ.get("BARE_DB_HOST", "127.0.0.1"),
            port=int(os.environ.get("BARE_DB_PORT", "3306")),
            user=os.environ.get("BARE_DB_USER", "root"),
            password=os.environ.get("BARE_DB_PASSWORD", ""),
            database=os.environ["BARE_DB_NAME"],
            charset="utf8mb4",
            autocommit=True,
            cursorclass=pymysql.cursors.DictCursor,
        )
    return conn


def row_json(row):
    return {
        "id": row["id"],
        "name": row["name"],
        "age": row["age"],
        "created_at": row["created_at"].isoformat() + "+00:00",
        "updated_at": row["updated_at"].isoformat() + "+00:00",
    }


@app.get("/api/v1/wdtests/<wdtest_id>")
def get_one(wdtest_id):
    with connection().cursor() as cur:
        cur.execute("SELECT * FROM wdtest WHERE id = %s", (wdtest_id,))
        row = cur.fetchone()
    if row is None:
        abort(404)
    return jsonify(row_json(row))


@app.get("/api/v1/wdtests")
def get_page():
    page = int(request.args.get("page", 1))
    per_page = int(request.args.get("per_page", 20))
    with connection().cursor() as cur:
        cur.execute("SELECT COUNT(*) AS n FROM wdtest")
        total = cur.fetchone()["n"]
        cur.execute("SELECT * FROM wdtest ORDER BY id LIMIT %s OFFSET %s", (per_page, (page - 1) * per_page))
        rows = cur.fetchall()
    pages = -(-total // per_page)
    return jsonify(items=[row_json(r) for r in rows], page=page, per_page=per_page, pages=pages, total=total)
