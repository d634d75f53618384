"""Namespace ``demo``: routing, request and context demos."""

import os

from flask import current_app, g, request
from flask_restx import Namespace, Resource

from api.openapi import error_responses, register_models
from api.schemas.demo import (
    ContextOut,
    EchoFile,
    EchoOut,
    IndexIdOut,
    UserIdOut,
    context_out,
    echo_out,
    index_id_out,
    user_id_out,
)

ns = Namespace("demo", description="Routing, request and context demos", path="/demo")
models = register_models(
    ns,
    {
        "UserIdOut": UserIdOut,
        "IndexIdOut": IndexIdOut,
        "EchoFile": EchoFile,
        "EchoOut": EchoOut,
        "ContextOut": ContextOut,
    },
)
HIDDEN_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key"}


@ns.route("/users/<string:user_id>", endpoint="demo_user")
@ns.param("user_id", "Any path segment; the string converter passes it as a string")
class User(Resource):
    @ns.response(200, "The id", models["UserIdOut"])
    @error_responses(ns, 404, 405)
    def get(self, user_id):
        """Echo the id from the path (GET and POST only)."""
        return user_id_out.dump({"id": user_id})

    @ns.response(200, "The id", models["UserIdOut"])
    @error_responses(ns, 401, 404, 405)
    def post(self, user_id):
        """Echo the id from the path (GET and POST only)."""
        return user_id_out.dump({"id": user_id})


@ns.route('/index/<regex("[0-9]{3}"):index_id>', endpoint="demo_index")
@ns.param("index_id", "Exactly three digits (custom regex converter)", pattern="^[0-9]{3}$")
class Index(Resource):
    @ns.response(200, "The id as an integer", models["IndexIdOut"])
    @error_responses(ns, 404)
    def get(self, index_id):
        """Match a three-digit id with the custom regex converter."""
        return index_id_out.dump({"id": index_id})


def _file_info(field, storage) -> dict:
    # Measure by seeking: the content is never read into memory or echoed.
    storage.stream.seek(0, os.SEEK_END)
    size = storage.stream.tell()
    return {"field": field, "filename": storage.filename, "size": size, "content_type": storage.mimetype}


@ns.route("/echo", endpoint="demo_echo")
class Echo(Resource):
    @ns.response(200, "What Flask saw of the request", models["EchoOut"])
    @error_responses(ns, 400, 401, 413)
    def post(self):
        """Show what Flask parsed: args, form, JSON, files, cookies, headers."""
        seen = {
            "method": request.method,
            "path": request.path,
            "remote_addr": request.remote_addr,
            "args": request.args.to_dict(flat=False),
            "form": request.form.to_dict(flat=False),
            "json": request.get_json() if request.is_json else None,
            "files": [_file_info(field, f) for field, f in request.files.items(multi=True)],
            "cookies": request.cookies.to_dict(),
            "headers": {k: v for k, v in request.headers.items() if k.lower() not in HIDDEN_HEADERS},
        }
        return echo_out.dump(seen)


@ns.route("/context", endpoint="demo_context")
class Context(Resource):
    @ns.response(200, "The app and request contexts", models["ContextOut"])
    def get(self):
        """Show the application context (current_app, g) and the request context."""
        return context_out.dump(
            {
                "app": current_app.name,
                "environment": current_app.config["ENV_NAME"],
                "request_id": g.request_id,
                "method": request.method,
                "pid": os.getpid(),
            }
        )
