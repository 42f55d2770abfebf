import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DEFAULT_VALIDATION_LIMITS, readLines, validateDataset } from '../../src/domain/datasets/validate/index.js';
import type { DatasetFileInput, DatasetKind, DatasetOptions, Line, ValidationLimits } from '../../src/domain/datasets/validate/index.js';

let seq = 0;
function jsonl(content: string | Buffer, { chunk = 7, contentType = 'application/x-ndjson' } = {}): DatasetFileInput {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const id = `file_jl${++seq}`;
  const chunks = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => bytes.subarray(i * chunk, i * chunk + chunk));
  return { id, filename: `${id}.jsonl`, bytes: bytes.length, contentType, open: async () => Readable.from(chunks) };
}
const lines = (...objs: unknown[]) => objs.map((o) => (typeof o === 'string' ? o : JSON.stringify(o))).join('\n') + '\n';

const run = (kind: DatasetKind, files: DatasetFileInput[], options: DatasetOptions = {}, limits: Partial<ValidationLimits> = {}) =>
  validateDataset(kind, files, options, { ...DEFAULT_VALIDATION_LIMITS, ...limits });

async function collect(bytes: Buffer, chunk: number, max = 1024): Promise<Line[]> {
  const out: Line[] = [];
  const chunks = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => bytes.subarray(i * chunk, i * chunk + chunk));
  for await (const l of readLines(Readable.from(chunks), max)) out.push(l);
  return out;
}

describe('readLines', () => {
  it('yields physical lines whatever the chunking, multi-byte characters included', async () => {
    const bytes = Buffer.from('\uFEFFfirst\r\n\nsecond é€😀\nlast without newline');
    for (const chunk of [1, 2, 3, 5, 1000]) {
      expect(await collect(bytes, chunk)).toEqual([
        { line: 1, text: 'first' },
        { line: 2, text: '' },
        { line: 3, text: 'second é€😀' },
        { line: 4, text: 'last without newline' },
      ]);
    }
  });

  it('drops an over-long line as it streams past and keeps counting', async () => {
    const bytes = Buffer.from(`ok\n${'x'.repeat(50)}\nok again\n${'y'.repeat(10)}\r\n`);
    expect(await collect(bytes, 4, 10)).toEqual([
      { line: 1, text: 'ok' },
      { line: 2, problem: 'line is longer than 10 bytes' },
      { line: 3, text: 'ok again' },
      { line: 4, text: 'y'.repeat(10) }, // exactly at the limit; the CR does not count
    ]);
  });

  it('reports invalid UTF-8 per line', async () => {
    const bytes = Buffer.concat([Buffer.from('good\n'), Buffer.from([0x62, 0xff, 0x61, 0x0a]), Buffer.from('fine')]);
    expect(await collect(bytes, 3)).toEqual([
      { line: 1, text: 'good' },
      { line: 2, problem: 'not valid UTF-8' },
      { line: 3, text: 'fine' },
    ]);
  });
});

describe('text-classification-jsonl validator', () => {
  it('computes exact stats with integer and string labels', async () => {
    const file = jsonl(
      lines({ text: 'good movie', label: 'pos' }, '', { text: 'bad', label: 'neg' }, '   ', { text: '😀😀', label: 'pos' }, { text: 'meh', label: 3 }),
    );
    const res = await run('text-classification-jsonl', [file]);
    expect(res.errors).toEqual([]);
    expect(res.stats).toEqual({ row_count: 4, class_counts: { pos: 2, neg: 1, '3': 1 }, avg_text_length: 4.5, max_text_length: 10 });
  });

  it('reports a \\u0000 escape or a lone surrogate at its line instead of storing it (issue #10)', async () => {
    const file = jsonl(
      lines({ text: 'ok one', label: 'a' }, '{"text":"bad\\u0000","label":"a"}', '{"text":"ok","label":"b\\ud800"}', { text: 'ok two', label: 'b' }),
    );
    const res = await run('text-classification-jsonl', [file]);
    expect(res.errors).toEqual([
      { file_id: file.id, line: 2, message: 'line 2: value.text: text must not contain the NUL character (\\u0000)' },
      { file_id: file.id, line: 3, message: 'line 3: value.label: text must be valid Unicode (it contains a lone surrogate)' },
    ]);
  });

  it('honours custom field names', async () => {
    const file = jsonl(lines({ sentence: 'a', y: 0 }, { sentence: 'b', y: 1 }, { text: 'c', label: 1 }));
    const res = await run('text-classification-jsonl', [file], { text_field: 'sentence', label_field: 'y' });
    expect(res.errors).toEqual([{ file_id: file.id, line: 3, message: 'line 3: missing "sentence"; missing "y"' }]);
    expect(res.stats.class_counts).toEqual({ '0': 1, '1': 1 });
  });

  it('reports every broken line with its physical line number and the reason', async () => {
    const file = jsonl(
      [
        '{"text": "fine", "label": "a"}',
        '',
        '{"text": "no closing brace", "label": "b"',
        '{"text": "", "label": "b"}',
        '{"text": 42, "label": "b"}',
        '{"text": "float label", "label": 1.5}',
        '["not", "an", "object"]',
        '{"label": true, "text": "bool label"}',
        '{"text": "ok", "label": "b"}',
      ].join('\r\n'),
    );
    const res = await run('text-classification-jsonl', [file]);
    expect(res.errors.map((e) => e.line)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(res.errors[0]!.message).toMatch(/^line 3: invalid JSON: .+/);
    expect(res.errors.slice(1).map((e) => e.message)).toEqual([
      'line 4: "text" is empty',
      'line 5: "text" must be a string, got number',
      'line 6: "label" must be a string or an integer, got number 1.5',
      'line 7: expected a JSON object, got array',
      'line 8: "label" must be a string or an integer, got boolean',
    ]);
    expect(res.errorCount).toBe(6);
    expect(res.stats.row_count).toBe(2);
  });

  it('needs at least two classes', async () => {
    const file = jsonl(lines({ text: 'a', label: 'x' }, { text: 'b', label: 'x' }));
    const res = await run('text-classification-jsonl', [file]);
    expect(res.errors).toEqual([{ file_id: file.id, message: 'a classifier needs at least 2 classes, found 1' }]);
  });

  it('reports an over-long line and still checks the next ones', async () => {
    const file = jsonl(lines({ text: 'x'.repeat(500), label: 'a' }, { text: 'ok', label: 'a' }, '{bad', { text: 'ok', label: 'b' }));
    const res = await run('text-classification-jsonl', [file], {}, { maxLineBytes: 100 });
    expect(res.errors.map((e) => e.message)).toEqual(['line 1: line is longer than 100 bytes', expect.stringMatching(/^line 3: invalid JSON/)]);
    expect(res.stats.row_count).toBe(2);
  });

  it('caps the issue list at maxErrors and counts the rest', async () => {
    const file = jsonl(Array.from({ length: 50 }, () => '{').join('\n'));
    const res = await run('text-classification-jsonl', [file], {}, { maxErrors: 3 });
    expect(res.errors.map((e) => e.line)).toEqual([1, 2, 3]);
    expect(res.errorCount).toBe(51); // 50 lines plus "fewer than 2 classes"
  });

  it('stops at maxRows counted over all files', async () => {
    const a = jsonl(lines({ text: 'a', label: 'x' }, { text: 'b', label: 'y' }));
    const b = jsonl(lines({ text: 'c', label: 'x' }, '', { text: 'd', label: 'y' }, { text: 'e', label: 'y' }));
    const res = await run('text-classification-jsonl', [a, b], {}, { maxRows: 3 });
    expect(res.errors).toEqual([{ file_id: b.id, line: 3, message: 'line 3: more than 3 rows in the dataset' }]);
  });

  it('streams a large file without trouble', async () => {
    const n = 100_000;
    const source = (): Readable =>
      Readable.from(
        (function* () {
          for (let i = 0; i < n; i += 1000) {
            let block = '';
            for (let j = i; j < i + 1000; j++) block += `{"text":"sample number ${j}","label":${j % 3}}\n`;
            yield Buffer.from(block);
          }
        })(),
      );
    const file: DatasetFileInput = { id: 'file_big', filename: 'big.jsonl', bytes: 0, contentType: 'application/x-ndjson', open: async () => source() };
    const res = await run('text-classification-jsonl', [file]);
    expect(res.errorCount).toBe(0);
    expect(res.stats.row_count).toBe(n);
    expect(res.stats.class_counts).toEqual({ '0': 33_334, '1': 33_333, '2': 33_333 });
  });

  it('refuses a file whose content is not text', async () => {
    const file = jsonl('x', { contentType: 'application/zip' });
    const res = await run('text-classification-jsonl', [file]);
    expect(res.errors[0]).toEqual({ file_id: file.id, message: 'not a JSON Lines file (content is application/zip)' });
  });
});

describe('chat-jsonl validator', () => {
  const convo = (...roles: string[]) => ({ messages: roles.map((role, i) => ({ role, content: `message ${i}` })) });

  it('computes exact stats for valid conversations', async () => {
    const file = jsonl(lines(convo('system', 'user', 'assistant'), convo('user', 'assistant', 'tool', 'assistant'), convo('user', 'assistant')), {
      contentType: 'text/plain',
    });
    const res = await run('chat-jsonl', [file]);
    expect(res.errors).toEqual([]);
    expect(res.stats).toEqual({
      example_count: 3,
      conversation_count: 3,
      text_count: 0,
      message_count: 9,
      role_counts: { system: 1, user: 3, assistant: 4, tool: 1 },
      avg_messages_per_conversation: 3,
    });
  });

  it('reports malformed conversations with line numbers', async () => {
    const file = jsonl(
      lines(
        convo('user', 'assistant'),
        convo('user'),
        convo('user', 'bot', 'assistant'),
        {
          messages: [
            { role: 'user', content: 'hi' },
            { role: 'assistant', content: ['parts'] },
          ],
        },
        { messages: [] },
        { conversation: [] },
        { messages: [{ role: 'user' }, 'hello', null, { role: 'assistant', content: 1 }, { role: 'x', content: 'y' }] },
        '{"messages": [',
      ),
    );
    const res = await run('chat-jsonl', [file]);
    expect(res.errors.map((e) => e.message)).toEqual([
      'line 2: conversation has no "assistant" message to learn from',
      'line 3: messages[1].role must be one of system, user, assistant, tool, got "bot"',
      'line 4: messages[1].content must be a string, got array',
      'line 5: "messages" is empty',
      'line 6: missing "messages" (or "text" for a plain-text line)',
      'line 7: messages[0].content must be a string, got nothing; messages[1] must be an object, got string; messages[2] must be an object, got null; and 2 more',
      expect.stringMatching(/^line 8: invalid JSON: /),
    ]);
    expect(res.stats.conversation_count).toBe(1);
  });

  it('accepts plain-text lines beside conversations, and rejects empty or non-string text', async () => {
    const file = jsonl(lines(convo('user', 'assistant'), { text: 'Once upon a time.' }, { text: '  ' }, { text: 3 }));
    const res = await run('chat-jsonl', [file]);
    expect(res.errors.map((e) => e.message)).toEqual(['line 3: "text" is empty', 'line 4: "text" must be a string, got number']);
    expect(res.stats).toMatchObject({ example_count: 2, conversation_count: 1, text_count: 1 });
  });

  it('does not accept an empty dataset as valid', async () => {
    const file = jsonl('\n\n');
    const res = await run('chat-jsonl', [file]);
    expect(res.errors).toEqual([{ file_id: file.id, message: 'no conversations found' }]);
  });
});
