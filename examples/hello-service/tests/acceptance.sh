#!/bin/sh
# Acceptance tests of a deployed hello-service, printing TAP 13 (run them with run-tests, suite
# "acceptance" in tests.toml). HELLO_URL is the service or the load balancer in front of it,
# e.g. http://10.213.0.11:8080 or, inside the testbed's lab, $CDKIT_TESTBED_LB_URL.
# EXPECTED_VERSION, if set, is the version every host must report.
url="${HELLO_URL:-}"
if [ -z "$url" ]; then
    echo "Bail out! HELLO_URL is not set (e.g. HELLO_URL=http://127.0.0.1:8000)"
    exit 2
fi
url="${url%/}"
body="$(mktemp)"
trap 'rm -f "$body"' EXIT
n=0
failed=0

# get PATH: the status code on stdout, the body in $body ("000" if the request failed).
get() {
    curl -sS --max-time 5 -o "$body" -w '%{http_code}' "$url$1" 2>"$body.err" || true
    rm -f "$body.err"
}

# check NAME CONDITION-RESULT MESSAGE: one TAP line, with a YAML block on failure.
check() {
    n=$((n + 1))
    if [ "$2" = 0 ]; then
        echo "ok $n - $1"
    else
        failed=$((failed + 1))
        echo "not ok $n - $1"
        printf '  ---\n  message: "%s"\n  ...\n' "$(printf '%s' "$3" | tr -d '"\\' | head -c 300)"
    fi
}

echo "TAP version 13"
echo "1..5"

status=$(get /)
case "$status $(cat "$body")" in "200 hello from hello-service "*) r=0 ;; *) r=1 ;; esac
check "root answers hello" $r "GET / gave $status: $(head -c 100 "$body")"

status=$(get /health)
grep -q '"status": "ok"' "$body"; r=$?
[ "$status" = 200 ] || r=1
check "health is ok" $r "GET /health gave $status: $(head -c 100 "$body")"
health_version=$(sed -n 's/.*"version": "\([^"]*\)".*/\1/p' "$body")

status=$(get /version)
version=$(cat "$body")
r=0
[ "$status" = 200 ] && [ -n "$version" ] || r=1
[ -z "${EXPECTED_VERSION:-}" ] || [ "$version" = "$EXPECTED_VERSION" ] || r=1
check "version is the expected one" $r "GET /version gave $status: '$version', expected '${EXPECTED_VERSION:-any}'"

r=0
[ "$health_version" = "$version" ] || r=1
check "health and version agree" $r "/health says '$health_version', /version says '$version'"

status=$(get /no-such-page)
r=0
[ "$status" = 404 ] || r=1
check "unknown paths are 404" $r "GET /no-such-page gave $status"

[ "$failed" = 0 ]
