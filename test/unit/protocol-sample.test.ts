import { describe, expect, it } from 'vitest';
import { parseEvent, storable } from '../../src/trainers/protocol.js';

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

// Steps land in bigint columns: a fractional one must not reach them (22P02 rolled back the
// whole batch of events it came with, and the attempts API answered 500).
describe('protocol: progress', () => {
  it('keeps steps whole and refuses counts no integer column holds', () => {
    expect(parseEvent('{"type":"progress","step":1.5,"total_steps":10.2,"epoch":0.5}')).toEqual({
      type: 'progress',
      step: 1,
      total_steps: 11,
      epoch: 0.5,
    });
    expect(parseEvent('{"type":"progress","step":3,"total_steps":0.5}')).toMatchObject({ step: 3, total_steps: 1 });
    for (const bad of [
      '{"type":"progress","step":1e21,"total_steps":1e22}',
      '{"type":"progress","step":1,"total_steps":1e300}',
      '{"type":"progress","step":-1,"total_steps":10}',
      '{"type":"progress","step":1,"total_steps":0}',
    ])
      expect(parseEvent(bad)).toBeNull();
  });
});

// Postgres refuses NUL and lone surrogate halves in text and jsonb: one such string in a batch
// of events used to lose the whole batch (a local worker) or fail it with a 500 (the API).
describe('protocol: text Postgres can store', () => {
  it('storable() replaces NUL and lone halves with U+FFFD and keeps pairs', () => {
    expect(storable('a\u0000b')).toBe('a\uFFFDb');
    expect(storable('cut \ud83d')).toBe('cut \uFFFD');
    expect(storable('\ude00 first')).toBe('\uFFFD first');
    expect(storable('ok 😀')).toBe('ok 😀');
    expect(storable('\ud83d😀')).toBe('\uFFFD😀');
  });

  it('parseEvent cleans every string and key of an event, escaped or not', () => {
    expect(parseEvent('{"type":"metrics","step":1,"values":{"a\\u0000":1}}')).toEqual({ type: 'metrics', step: 1, values: { 'a\uFFFD': 1 } });
    expect(parseEvent('{"type":"log","level":"info","message":"x\\ud83d"}')).toEqual({ type: 'log', level: 'info', message: 'x\uFFFD' });
    expect(parseEvent('{"type":"result","metrics":{"acc":1},"details":{"notes":["\\u0000"]}}')).toEqual({
      type: 'result',
      metrics: { acc: 1 },
      details: { notes: ['\uFFFD'] },
    });
    expect(parseEvent('{"type":"log","level":"info","message":"fine 😀"}')).toMatchObject({ message: 'fine 😀' });
  });
});
