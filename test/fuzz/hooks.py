"""schemathesis hooks for the API fuzz gate (test/fuzz/api-fuzz.test.ts loads this file).

One check of our own: a request that names another owner's resource in its path must never
succeed. The conformance checks only ask that a 404 be documented; this one asks that the
answer not be a 2xx. FUZZ_FOREIGN_IDS holds user B's ids (JSON list); the run is user A's.
"""

import json
import os
from urllib.parse import unquote

import schemathesis

FOREIGN = set(json.loads(os.environ.get("FUZZ_FOREIGN_IDS", "[]")))


@schemathesis.check
def foreign_ids_not_found(ctx, response, case):
    """Another owner's id in the path answers 4xx (404 by the API's rule), never 2xx."""
    params = case.path_parameters or {}
    named = [str(v) for v in params.values() if unquote(str(v)) in FOREIGN or str(v) in FOREIGN]
    if named and 200 <= response.status_code < 300:
        raise AssertionError(
            f"another owner's resource ({', '.join(named)}) answered {response.status_code} to user A"
        )
