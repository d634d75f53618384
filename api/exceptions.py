"""Namespace ``exceptions``: how errors travel to the client."""

from flask import abort
from flask_restx import Namespace, Resource
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import default_exceptions

from api.openapi import error_responses, query_params, register_models
from api.parsing import load_query
from api.schemas.demo import DivideOut, DivideQuery, divide_out, divide_query
from services import demo

ns = Namespace("exceptions", description="Error demos: every error is problem+json", path="/exceptions")
models = register_models(ns, {"DivideOut": DivideOut})
# Werkzeug's error classes, 4xx and 5xx: the codes abort() can raise.
ABORT_CODES = sorted(code for code in default_exceptions if 400 <= code <= 599)


@ns.route("/divide", endpoint="exceptions_divide")
class Divide(Resource):
    @ns.doc(params=query_params(DivideQuery))
    @ns.response(200, "The quotient", models["DivideOut"])
    @error_responses(ns, 400)
    def get(self):
        """Divide a by b; b=0 is caught and answered 400."""
        args = load_query(divide_query)
        return divide_out.dump({"result": demo.divide(a=args["a"], b=args["b"])})


# signed: a negative code reaches the view and gets the 400 of any other unknown code.
@ns.route("/abort/<int(signed=True):code>", endpoint="exceptions_abort")
@ns.param("code", f"An HTTP error status Werkzeug knows: {', '.join(map(str, ABORT_CODES))}")
class Abort(Resource):
    @error_responses(ns, 400, 404, 500)
    def get(self, code):
        """Call abort(code): that status as problem+json, or 400 for an unknown code."""
        if code not in ABORT_CODES:
            abort(400, description=f"{code} is not an HTTP error status Werkzeug knows.")
        # The headers HTTP requires with these two statuses.
        if code == 405:
            abort(405, valid_methods=["GET"])
        if code == 401:
            abort(401, www_authenticate=WWWAuthenticate("ApiKey", {"realm": "wdapi"}))
        abort(code)


@ns.route("/crash", endpoint="exceptions_crash")
class Crash(Resource):
    @error_responses(ns, 500)
    def get(self):
        """Raise an unhandled exception: 500, the traceback only in the log."""
        raise RuntimeError("demo crash: this message and its traceback stay in the server log")


@ns.route("/custom", endpoint="exceptions_custom")
class Custom(Resource):
    @error_responses(ns, 429)
    def get(self):
        """Raise the project's own domain error: its status, title and extra members."""
        demo.use_quota()
