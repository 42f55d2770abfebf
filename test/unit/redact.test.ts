import { describe, expect, it } from 'vitest';
import { redactServerPaths, redactServerPathsDeep } from '../../src/redact.js';

describe('redactServerPaths (issue #10)', () => {
  it('hides absolute server paths in the messages internal errors become', () => {
    expect(redactServerPaths("could not prepare the job's inputs: ENOENT: no such file or directory, open '/srv/trainyard/data/storage/files/u/f'")).toBe(
      "could not prepare the job's inputs: ENOENT: no such file or directory, open '<server path>'",
    );
    expect(redactServerPaths('could not start the trainer: spawn /opt/venv/bin/python ENOENT')).toBe('could not start the trainer: spawn <server path> ENOENT');
    expect(redactServerPaths('/tmp/x is not a folder on this server')).toBe('<server path> is not a folder on this server');
    expect(redactServerPaths('probe failed: EACCES (/root/.cache/huggingface)')).toBe('probe failed: EACCES (<server path>)');
  });

  it('leaves API routes, URLs, relative names and plain text alone', () => {
    for (const s of [
      'no trainer "x"; GET /v1/trainers lists them',
      'no route GET /v1/nope',
      'webhook to https://example.com/hooks/a failed',
      'label column "a/b" not found',
      'models/llama-3.2-1b',
      'a ratio of 1/2',
    ])
      expect(redactServerPaths(s)).toBe(s);
  });

  it('walks error details', () => {
    expect(redactServerPathsDeep({ path: '/data/models/x', expected: 'config.json', list: ['/etc/passwd', 'ok'] })).toEqual({
      path: '<server path>',
      expected: 'config.json',
      list: ['<server path>', 'ok'],
    });
  });
});
