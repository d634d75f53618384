"""Namespace ``exceptions``: how errors travel to the client."""

from flask import abort
from flask_restx import Namespace, Resource
from werkzeug.datastructures import WWWAuthenticate

from api.contract.operations import errors, operation_id, path, query, returns
from api.schemas.demo import ABORT_CODES, AbortPath, DivideOut, DivideQuery
from services import demo

ns = Namespace("exceptions", description="Error demos: every error is problem+json", path="/exceptions")


@ns.route("/divide", endpoint="exceptions_divide")
class Divide(Resource):
    @operation_id("divide_numbers")
    @returns(200, DivideOut, "The quotient")
    @query(DivideQuery)
    def get(self, query):
        """Divide a by b; b=0 is caught and answered 400.

        Shows a domain error raised by a service and mapped to problem+json once.
        """
        return {"result": demo.divide(a=query["a"], b=query["b"])}


# signed: a negative code reaches the view and gets the 400 of any other unknown code.
@ns.route("/abort/<int(signed=True):code>", endpoint="exceptions_abort")
@path(AbortPath)
class Abort(Resource):
    @operation_id("abort_with_status")
    @errors(*ABORT_CODES)  # 400 also for a code Werkzeug does not know, 404 for a non-integer
    def get(self, code):
        """Call abort(code): that status as problem+json, or 400 for an unknown code.

        Every status Werkzeug knows comes back in the one error shape of the API.
        """
        # An unknown code is refused with 400 by the path schema's OneOf before this runs.
        # The headers HTTP requires with these two statuses.
        if code == 405:
            abort(405, valid_methods=["GET"])
        if code == 401:
            abort(401, www_authenticate=WWWAuthenticate("ApiKey", {"realm": "wdapi"}))
        abort(code)


@ns.route("/crash", endpoint="exceptions_crash")
class Crash(Resource):
    @operation_id("raise_crash")
    @errors(500)
    def get(self):
        """Raise an unhandled exception: 500, the traceback only in the log.

        The client gets a generic problem+json; nothing of the exception leaks.
        """
        raise RuntimeError("demo crash: this message and its traceback stay in the server log")


@ns.route("/custom", endpoint="exceptions_custom")
class Custom(Resource):
    @operation_id("raise_domain_error")
    @errors(429)
    def get(self):
        """Raise the project's own domain error: its status, title and extra members.

        The error class declares its status; the one handler renders it as problem+json.
        """
        demo.use_quota()
