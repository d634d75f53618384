"""``python -m swagger_export [--env prod] -o swagger.json --openapi openapi.json``: write the
documents an environment serves (production's by default; ``-`` for stdout)."""

import argparse
import sys

from core.paths import OPENAPI_3, SWAGGER_2
from settings import CONFIGS
from swagger_export import build_spec, dumps, export_app, write_spec


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m swagger_export", description=__doc__)
    parser.add_argument("-o", "--output", default="swagger.json", help="Swagger 2.0 file (- for stdout)")
    parser.add_argument("--openapi", help="OpenAPI 3.1 file (- for stdout); not written when absent")
    parser.add_argument(
        "--env",
        default="prod",
        choices=sorted(CONFIGS),
        help="the environment whose documents (default: prod)",
    )
    args = parser.parse_args(argv)
    app = export_app(args.env)
    for path, version in ((args.output, SWAGGER_2), (args.openapi, OPENAPI_3)):
        if path == "-":
            sys.stdout.write(dumps(build_spec(app, version)))
        elif path:
            write_spec(app, path, version)
            print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
