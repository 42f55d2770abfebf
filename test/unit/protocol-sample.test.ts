import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/trainers/protocol.js';

// The `sample` message of the trainer protocol (issue #12): a malformed one stays a log line.
describe('protocol: sample', () => {
  it('parses a well-formed sample and refuses malformed ones', () => {
    expect(parseEvent('{"type":"sample","step":20,"prompt":"a photo of sks","path":"samples/s.png"}')).toEqual({
      type: 'sample',
      step: 20,
      prompt: 'a photo of sks',
      path: 'samples/s.png',
    });
    for (const bad of [
      '{"type":"sample","step":-1,"prompt":"p","path":"s.png"}',
      '{"type":"sample","step":1,"prompt":"","path":"s.png"}',
      '{"type":"sample","step":1,"prompt":"p"}',
      `{"type":"sample","step":1,"prompt":"${'x'.repeat(2001)}","path":"s.png"}`,
    ])
      expect(parseEvent(bad)).toBeNull();
  });
});
