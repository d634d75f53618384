"""Namespace ``demo``: routing, request and context demos."""

import os

from flask import current_app, g, request
from flask_restx import Namespace, Resource

from api.contract.operations import errors, form, operation_id, path, returns
from api.schemas.demo import ContextOut, EchoForm, EchoOut, IndexIdOut, IndexPath, UserIdOut, UserPath
from core.errors import InvalidInput

ns = Namespace("demo", description="Routing, request and context demos", path="/demo")
HIDDEN_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key"}


@ns.route("/users/<string:user_id>", endpoint="demo_user")
@path(UserPath)
class User(Resource):
    @operation_id("echo_user_id")
    @returns(200, UserIdOut, "The id")
    def get(self, user_id):
        """Echo the id from the path (GET and POST only).

        Other methods get 405 with an Allow header.
        """
        return {"id": user_id}

    @operation_id("echo_posted_user_id")
    @returns(200, UserIdOut, "The id")
    def post(self, user_id):
        """Echo the id from the path (GET and POST only).

        The same route as the GET: one resource class, one method each.
        """
        return {"id": user_id}


@ns.route('/index/<regex("[0-9]{3}"):index_id>', endpoint="demo_index")
@path(IndexPath)
class Index(Resource):
    @operation_id("get_index")
    @returns(200, IndexIdOut, "The id as an integer")
    @errors(404)  # a segment that is not three digits
    def get(self, index_id):
        """Match a three-digit id with the custom regex converter.

        Any other segment does not match the route: 404.
        """
        return {"id": index_id}


def _file_info(field, storage) -> dict:
    # Measure by seeking: the content is never read into memory or echoed.
    storage.stream.seek(0, os.SEEK_END)
    size = storage.stream.tell()
    return {"field": field, "filename": storage.filename, "size": size, "content_type": storage.mimetype}


@ns.route("/echo", endpoint="demo_echo")
class Echo(Resource):
    @operation_id("echo_request")
    @returns(200, EchoOut, "What Flask saw of the request")
    @form(EchoForm, json=True)
    @errors(400, 413)  # malformed JSON or form data; too large
    def post(self):
        """Show what Flask parsed: args, form, JSON, files, cookies, headers.

        Files are measured, never echoed; Authorization, Cookie and X-API-Key are left out.
        """
        if request.mimetype == "multipart/form-data" and not (request.form or request.files):
            # werkzeug skips parts it cannot read: more than the closing "--boundary--" line
            # and nothing read is no form.
            closing = len(request.mimetype_params.get("boundary", "")) + 8
            if (request.content_length or 0) > closing:
                raise InvalidInput("The multipart body has no readable part.")
        return {
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


@ns.route("/context", endpoint="demo_context")
class Context(Resource):
    @operation_id("get_context")
    @returns(200, ContextOut, "The app and request contexts")
    def get(self):
        """Show the application context (current_app, g) and the request context.

        The request id is the one the response's X-Request-ID carries.
        """
        return {
            "app": current_app.name,
            "environment": current_app.config["ENV_NAME"],
            "request_id": g.request_id,
            "method": request.method,
            "pid": os.getpid(),
        }
