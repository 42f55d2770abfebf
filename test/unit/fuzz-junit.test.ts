import { describe, expect, it } from 'vitest';
import { parseJunit } from '../fuzz/junit.js';

// The fuzz gate's verdict and its report come from schemathesis' JUnit file: a failure must be
// attributed to its own operation, not to the passing (self-closing) testcase before it.
describe('parseJunit', () => {
  it('names the failing operation, counts, and ignores passing self-closing testcases', () => {
    const xml =
      '<testsuites><testsuite name="schemathesis" tests="3" failures="1" errors="1">' +
      '<testcase name="POST /v1/admin/catalog/reload" time="0.1"/>' +
      '<testcase name="POST /v1/files" time="0.2"><failure type="failure" message="Server error">[500] &lt;x&gt;</failure></testcase>' +
      '<testcase name="GET /v1/jobs" time="0.1"><error type="error" message="boom"/></testcase>' +
      '</testsuite></testsuites>';
    const r = parseJunit(xml);
    expect(r).toMatchObject({ tests: 3, failures: 1, errors: 1 });
    expect(r.failed.map((f) => f.operation)).toEqual(['POST /v1/files', 'GET /v1/jobs']);
    expect(r.failed[0]!.message).toContain('[500] <x>');
  });
});
