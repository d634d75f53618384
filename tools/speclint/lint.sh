#!/bin/sh
# Lint API documents: Redocly's recommended rules and spectral:oas with no error or warning,
# the OWASP ruleset with no error. Usage: tools/speclint/lint.sh DOCUMENT...
set -eu
here=$(dirname "$0")
bin="$here/node_modules/.bin"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true  # no network calls
status=0
for doc in "$@"; do
	# Redocly fails on errors only: warnings are counted from its JSON report.
	report=$("$bin/redocly" lint --config "$here/redocly.yaml" --format json "$doc" 2>/dev/null) || true
	problems=$(printf '%s' "$report" | node -e '
		let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
			try { const t = JSON.parse(s).totals; console.log(t.errors + t.warnings); }
			catch { console.log("unreadable"); }
		});')
	if [ "$problems" != 0 ]; then
		echo "redocly: $doc: $problems problems" >&2
		"$bin/redocly" lint --config "$here/redocly.yaml" "$doc" >&2 || true
		status=1
	fi
	"$bin/spectral" lint --quiet --ruleset "$here/spectral-oas.yaml" --fail-severity warn "$doc" || status=1
	"$bin/spectral" lint --quiet --ruleset "$here/spectral-owasp.yaml" --fail-severity error \
		--display-only-failures "$doc" || status=1
done
exit $status
