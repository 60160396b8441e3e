#!/usr/bin/env bash
# Prepares schemathesis for test/faults/schemathesis.fault.ts: a virtualenv under .cache/schemathesis
# with the pinned version (installed once, kept between runs), the hooks that teach it the
# collector's bodies, and the checks for each document (collector.toml, query.toml). Prints the
# folder that holds them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

version=4.32.5
dir=$PWD/.cache/schemathesis
venv=$dir/venv
mkdir -p "$dir"
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null || true)" != "schemathesis, version $version" ]; then
  echo "schemathesis-setup: installing schemathesis $version into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" >&2
fi

# The checks, the same for both documents. 413 is a rejection too: a body over the documented
# maxItems is answered so.
checks='[checks]
enabled = false
not_a_server_error.enabled = true
status_code_conformance.enabled = true
content_type_conformance.enabled = true
response_schema_conformance.enabled = true
positive_data_acceptance.enabled = true
negative_data_rejection.enabled = true
negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]'
printf '%s\n' "$checks" >"$dir/query.toml"
# positive_data_acceptance is off where a body holds records of a sensor format: any text is
# schema-valid there, and whether a record is an attack is the decoder's to say (docs/formats.md).
cat >"$dir/collector.toml" <<TOML
$checks

[[operations]]
include-path-regex = "^/(v1/events/|services/collector)"
checks.positive_data_acceptance.enabled = false
TOML

cat >"$dir/hooks.py" <<'PY'
"""What schemathesis cannot know from the documents alone."""

import datetime
import gzip
import json
import re

import schemathesis


def _content_encoding(ctx):
    for name, value in (ctx.case.headers or {}).items():
        if name.lower() == "content-encoding":
            return str(value).strip().lower()
    return ""


def _on_the_wire(ctx, data):
    """The body gzipped when the request says Content-Encoding: gzip, as a sensor sends it."""
    return gzip.compress(data, mtime=0) if _content_encoding(ctx) in ("gzip", "x-gzip") else data


def _text(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    data = getattr(value, "data", None)
    if isinstance(data, bytes):
        return data
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@schemathesis.serializer("application/json")
def json_body(ctx, value):
    if isinstance(value, bytes):
        return _on_the_wire(ctx, value)
    return _on_the_wire(ctx, json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))


@schemathesis.serializer("application/x-ndjson")
def ndjson_body(ctx, value):
    """NDJSON, which the documents state as an array: one item per line."""
    if isinstance(value, list):
        return _on_the_wire(ctx, b"\n".join(_text(item) for item in value))
    return _on_the_wire(ctx, _text(value))


@schemathesis.serializer("text/plain", "application/octet-stream")
def text_body(ctx, value):
    return _on_the_wire(ctx, _text(value))


_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))$")


def _recent(value):
    """A well-formed occurred_at moved to two days ago, its time of day and offset kept.

    The collector refuses events from beyond its horizon or from the future, measured against the
    time a request arrives, which no schema can state. Two days back, any offset up to +-14:00
    lands inside both limits; an ill-formed value stays as it was, so a negative case stays one.
    """
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        return value
    try:
        datetime.date.fromisoformat(match.group(1))
    except ValueError:
        return value
    day = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=2)
    return day.isoformat() + match.group(2)


def _with_recent_times(body):
    if isinstance(body, list):
        return [_with_recent_times(item) for item in body]
    if isinstance(body, dict):
        body = dict(body)
        if "occurred_at" in body:
            body["occurred_at"] = _recent(body["occurred_at"])
        if isinstance(body.get("event"), dict):
            body["event"] = _with_recent_times(body["event"])
    return body


def _negative(case, location):
    meta = case.meta
    return meta is not None and any(
        getattr(where, "value", where) == location and component.mode.is_negative
        for where, component in meta.components.items()
    )


def _instant(value):
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _ordered_range(query):
    """from before to, at most a day apart: the one rule between two parameters a schema cannot state.

    A cursor is opaque (only a previous answer's next_cursor is valid), so a valid case has none.
    """
    query = dict(query)
    query.pop("cursor", None)
    start, end = _instant(query.get("from")), _instant(query.get("to"))
    if start is not None and end is not None and start.tzinfo is not None and end.tzinfo is not None:
        if not start < end <= start + datetime.timedelta(days=1):
            later = start + datetime.timedelta(hours=1)
            query["to"] = later.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return query


@schemathesis.hook
def map_case(context, case):
    if case.operation.method.upper() == "POST" and isinstance(case.body, (list, dict)):
        case.body = _with_recent_times(case.body)
    if case.operation.method.upper() == "GET" and case.query and not _negative(case, "query"):
        case.query = _ordered_range(case.query)
    return case


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure but one the documents describe: an invalid event rejected alone.

    A request whose body alone is invalid, answered 202 with the invalid events listed under
    rejected and the others accepted, is what the collector promises for a partly valid batch.
    """
    if type(failure).__name__ != "AcceptedNegativeData" or response.status_code != 202:
        return True
    meta = case.meta
    if meta is None or any(
        getattr(location, "value", location) != "body" and component.mode.is_negative
        for location, component in meta.components.items()
    ):
        return True
    try:
        answer = json.loads(response.content)
    except ValueError:
        return True
    return not (isinstance(answer, dict) and answer.get("accepted", 0) > 0 and answer.get("rejected"))
PY

echo "$dir"
