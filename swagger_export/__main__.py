"""``python -m swagger_export -o FILE``: write the API spec to FILE (``-`` for stdout)."""

import argparse
import json
import sys

from factory import create_app
from swagger_export import build_spec, write_spec


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m swagger_export", description=__doc__)
    parser.add_argument("-o", "--output", default="swagger.json", help="file to write (- for stdout)")
    args = parser.parse_args(argv)
    app = create_app({"ENV_NAME": "test", "SQLALCHEMY_ECHO": False})
    if args.output == "-":
        json.dump(build_spec(app), sys.stdout, indent=2, ensure_ascii=False, sort_keys=True)
        sys.stdout.write("\n")
    else:
        write_spec(app, args.output)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
