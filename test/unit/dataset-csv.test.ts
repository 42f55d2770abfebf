import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DEFAULT_VALIDATION_LIMITS, validateDataset } from '../../src/domain/datasets/validate/index.js';
import type { DatasetFileInput, DatasetOptions, ValidationLimits } from '../../src/domain/datasets/validate/index.js';

let seq = 0;
/** Served in 5-byte chunks so records, quotes and CRLFs straddle chunk boundaries. */
function csv(text: string, contentType = 'text/csv'): DatasetFileInput {
  const bytes = Buffer.from(text);
  const id = `file_csv${++seq}`;
  const chunks = Array.from({ length: Math.ceil(bytes.length / 5) }, (_, i) => bytes.subarray(i * 5, i * 5 + 5));
  return { id, filename: `${id}.csv`, bytes: bytes.length, contentType, open: async () => Readable.from(chunks) };
}

const validate = (files: DatasetFileInput[], options: DatasetOptions = {}, limits: Partial<ValidationLimits> = {}) =>
  validateDataset('tabular-csv', files, options, { ...DEFAULT_VALIDATION_LIMITS, ...limits });

describe('tabular-csv validator', () => {
  it('infers exact column types, missing counts and class counts', async () => {
    const file = csv(
      [
        'id,score,active,created_at,name,label,empty',
        '1,0.5,true,2024-01-31,ann,cat,',
        '2,3,FALSE,2024-02-29T10:15:00Z,bob,dog,',
        '-3,1e3,,2024-03-01 08:00:01.250+02:00,,cat,',
        '4,,false,,"d, e",bird,',
        '',
      ].join('\n'),
    );
    const res = await validate([file], { label_column: 'label' });
    expect(res.errors).toEqual([]);
    expect(res.errorCount).toBe(0);
    expect(res.stats).toEqual({
      row_count: 4,
      columns: [
        { name: 'id', type: 'integer', missing: 0 },
        { name: 'score', type: 'number', missing: 1 },
        { name: 'active', type: 'boolean', missing: 1 },
        { name: 'created_at', type: 'datetime', missing: 1 },
        { name: 'name', type: 'string', missing: 1 },
        { name: 'label', type: 'string', missing: 0 },
        { name: 'empty', type: 'string', missing: 4 },
      ],
      label_column: 'label',
      class_counts: { cat: 2, dog: 1, bird: 1 },
    });
  });

  it('does not call impossible dates datetime', async () => {
    const res = await validate([csv('d,t\n2024-01-01,2024-01-01T10:00\n2023-02-29,2024-01-01T24:00\n')]);
    expect(res.stats.columns).toEqual([
      { name: 'd', type: 'string', missing: 0 },
      { name: 't', type: 'string', missing: 0 },
    ]);
  });

  it('reports wrong field counts with physical line numbers and keeps going', async () => {
    // BOM, CRLF, blank lines and a quoted field spanning two lines all shift the physical line.
    const text = '\uFEFFa,b,c\r\n1,2,3\r\n\r\n"multi\r\nline",5,6\r\n7,8\r\n9,10,11\r\n12,13,14,15\r\n';
    const file = csv(text);
    const res = await validate([file]);
    expect(res.errors).toEqual([
      { file_id: file.id, line: 6, message: 'line 6: expected 3 fields, got 2' },
      { file_id: file.id, line: 8, message: 'line 8: expected 3 fields, got 4' },
    ]);
    expect(res.errorCount).toBe(2);
    expect(res.stats.row_count).toBe(3);
    expect((res.stats.columns as { name: string }[]).map((c) => c.name)).toEqual(['a', 'b', 'c']);
  });

  it('reports a NUL in a value at its line, never passing it on (issue #10)', async () => {
    const file = csv('a,b\n1,2\n3,"x\u0000y"\n5,6\n');
    const res = await validate([file]);
    expect(res.errors).toEqual([{ file_id: file.id, line: 3, message: 'line 3: contains the NUL character (\\u0000)' }]);
  });

  it('reports bytes that are not UTF-8 at their line, even split across chunks (issue #10)', async () => {
    const bytes = Buffer.concat([Buffer.from('a,b\n1,2\n3,4\n"x\ny",'), Buffer.from([0xc3, 0x28]), Buffer.from('\n7,8\n')]);
    const file: DatasetFileInput = { ...csv(''), bytes: bytes.length, open: async () => Readable.from([bytes.subarray(0, 17), bytes.subarray(17)]) };
    const res = await validate([file]);
    expect(res.errors).toEqual([{ file_id: file.id, line: 5, message: 'line 5: not valid UTF-8 (the file must be UTF-8 text)' }]);
  });

  it('still reads a UTF-8 BOM and multi-byte characters cut by chunk boundaries', async () => {
    const file = csv('\uFEFFname,label\nmünchen,ä\nzürich,ö\n');
    const res = await validate([file], { label_column: 'label' });
    expect(res.errors).toEqual([]);
    expect(res.stats.class_counts).toEqual({ ä: 1, ö: 1 });
  });

  it('reports an unclosed quote at the line where the record starts and stops that file', async () => {
    const broken = csv('a,b\n1,2\n3,"never closed\n4,5\n6,7,8\n');
    const next = csv('a,b\n1,2\n');
    const res = await validate([broken, next]);
    expect(res.errors).toEqual([{ file_id: broken.id, line: 3, message: 'line 3: unclosed quote: the quoted field runs to the end of the file' }]);
    // The next file is still read: rows 1,2 (first file) and 1,2 (second file).
    expect(res.stats.row_count).toBe(2);
  });

  it('reports a stray quote with its line', async () => {
    const file = csv('a,b\n1,2\n3,"x"y\n');
    const res = await validate([file]);
    expect(res.errorCount).toBe(1);
    expect(res.errors[0]!.line).toBe(3);
    expect(res.errors[0]!.message).toMatch(/^line 3: unexpected character after a closing quote/);
  });

  it('requires a header and at least one data row', async () => {
    const empty = csv('');
    const blank = csv('\n\n');
    const headerOnly = csv('a,b\n');
    const res = await validate([empty, blank, headerOnly]);
    expect(res.errors).toEqual([
      { file_id: empty.id, message: 'empty file: a header row is required' },
      { file_id: blank.id, message: 'empty file: a header row is required' },
      { file_id: headerOnly.id, message: 'no data rows, only a header' },
    ]);
  });

  it('rejects duplicate and empty column names', async () => {
    const file = csv('a,b,a, \n1,2,3,4\n');
    const res = await validate([file]);
    expect(res.errors).toEqual([
      { file_id: file.id, line: 1, message: 'line 1: duplicate column name "a"' },
      { file_id: file.id, line: 1, message: 'line 1: column 4 has an empty name' },
    ]);
  });

  it('merges files with the same header and refuses one with another header', async () => {
    const a = csv('x,y\n1,a\n2,b\n');
    const b = csv('x,y\r\n3,c\r\n');
    const c = csv('x,z\n4,d\n');
    const res = await validate([a, b, c]);
    expect(res.errors).toEqual([{ file_id: c.id, line: 1, message: "line 1: header differs from the first file's: expected x,y, got x,z" }]);
    expect(res.stats.row_count).toBe(3);
    expect(res.stats.columns).toEqual([
      { name: 'x', type: 'integer', missing: 0 },
      { name: 'y', type: 'string', missing: 0 },
    ]);
  });

  it('names the available columns when the label column does not exist', async () => {
    const file = csv('text,category\nhi,a\nyo,b\n');
    const res = await validate([file], { label_column: 'label' });
    expect(res.errors).toEqual([{ file_id: file.id, message: 'label column "label" not found; available columns: text, category' }]);
    expect(res.stats.label_column).toBe('label');
    expect(res.stats).not.toHaveProperty('class_counts');
  });

  it('needs at least two classes in the label column', async () => {
    const file = csv('text,label\nhi,a\nyo,a\nhey,\n');
    const res = await validate([file], { label_column: 'label' });
    expect(res.errors).toEqual([{ file_id: file.id, message: 'label column "label" needs at least 2 classes, found 1' }]);
    expect(res.stats.class_counts).toEqual({ a: 2 });
  });

  it('caps the issue list at maxErrors but counts every issue', async () => {
    const rows = Array.from({ length: 30 }, () => '1,2,3').join('\n');
    const res = await validate([csv(`a,b\n${rows}\n`)], {}, { maxErrors: 5 });
    expect(res.errors).toHaveLength(5);
    expect(res.errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6]);
    expect(res.errorCount).toBe(30);
  });

  it('stops at maxRows over all files', async () => {
    const a = csv('a\n1\n2\n3\n');
    const b = csv('a\n4\n5\n6\n');
    const res = await validate([a, b], {}, { maxRows: 5 });
    expect(res.errors).toEqual([{ file_id: b.id, line: 4, message: 'line 4: more than 5 rows in the dataset' }]);
    expect(res.stats.row_count).toBe(5);
  });

  it('refuses a record longer than maxLineBytes', async () => {
    const file = csv(`a,b\n1,2\n3,${'x'.repeat(200)}\n`);
    const res = await validate([file], {}, { maxLineBytes: 100 });
    expect(res.errors).toEqual([{ file_id: file.id, line: 3, message: 'line 3: record is longer than 100 bytes' }]);
  });

  it('refuses content that is not text', async () => {
    const file = csv('whatever', 'image/png');
    const res = await validate([file]);
    expect(res.errors).toEqual([{ file_id: file.id, message: 'not a CSV file (content is image/png)' }]);
  });

  it('throws, not reports, when the file cannot be read', async () => {
    const file: DatasetFileInput = {
      ...csv('a\n1\n'),
      open: async () =>
        Readable.from(
          (async function* () {
            yield Buffer.from('a,b\n1,2\n');
            throw new Error('disk on fire');
          })(),
        ),
    };
    await expect(validate([file])).rejects.toThrow('disk on fire');
  });
});

describe('tabular-csv instances (instance_column, order_column)', () => {
  const opts = { label_column: 'label', instance_column: 'rec', order_column: 't' };

  it('counts instances, their lengths and the class balance in instances', async () => {
    // r1 (3 rows) and r2 (2 rows) interleave and each restart t; r3 spans two files.
    const a = csv('rec,t,x,label\nr1,0,0.1,walk\nr2,0,0.5,run\nr1,1,0.2,walk\nr2,1,0.6,run\nr1,2,0.3,walk\nr3,0,1,walk\n');
    const b = csv('rec,t,x,label\nr3,1.5,2,walk\nr3,2e0,3,walk\nr3,3,4,walk\nr4,0,5,run\n');
    const res = await validate([a, b], opts);
    expect(res.errors).toEqual([]);
    expect(res.stats).toMatchObject({
      row_count: 10,
      label_column: 'label',
      class_counts: { walk: 7, run: 3 },
      instance_column: 'rec',
      order_column: 't',
      instances: { count: 4, min_length: 1, median_length: 2.5, max_length: 4, per_class: { walk: 2, run: 2 } },
    });
  });

  it('names the instance and the line where its label changes, once per instance', async () => {
    const file = csv('rec,t,label\nr1,0,a\nr2,0,b\nr1,1,a\nr1,2,b\nr1,3,c\nr2,1,b\n');
    const res = await validate([file], opts);
    expect(res.errors).toEqual([
      { file_id: file.id, line: 5, message: 'line 5: label changes within instance "r1": "b" here, "a" from line 2; an instance (recording) has one label' },
    ]);
  });

  it('names the first file when the label changes across files', async () => {
    const a = csv('rec,t,label\nr1,0,a\nr2,0,b\n');
    const b = csv('rec,t,label\nr1,1,b\n');
    const res = await validate([a, b], opts);
    expect(res.errors).toEqual([
      {
        file_id: b.id,
        line: 2,
        message: `line 2: label changes within instance "r1": "b" here, "a" from line 2 of ${a.filename}; an instance (recording) has one label`,
      },
    ]);
  });

  it('names the option and the available columns when a column does not exist', async () => {
    const file = csv('id,time,label\n1,0,a\n2,0,b\n');
    const res = await validate([file], opts);
    expect(res.errors).toEqual([
      { file_id: file.id, message: 'instance_column "rec" not found in the header; available columns: id, time, label' },
      { file_id: file.id, message: 'order_column "t" not found in the header; available columns: id, time, label' },
    ]);
    expect(res.stats).not.toHaveProperty('instances');
  });

  it('refuses empty instance or order cells, order values that are not numbers or datetimes, and a mix of both', async () => {
    const file = csv('rec,t,label\nr1,0,a\n,1,a\nr1,,a\nr1,soon,a\nr2,2024-01-01T00:00:00Z,b\n');
    const res = await validate([file], opts);
    expect(res.errors.map((e) => [e.line, e.message])).toEqual([
      [3, 'line 3: empty value in instance_column "rec": every row must name the instance (recording) it belongs to'],
      [4, 'line 4: empty value in order_column "t": every row needs its position in time'],
      [5, 'line 5: order_column "t" value "soon" is neither a number nor a datetime (YYYY-MM-DD[THH:MM[:SS][zone]])'],
      [6, 'line 6: order_column "t" mixes datetimes with numbers (numbers since line 2); use one kind'],
    ]);
  });

  it('refuses the same column for two roles', async () => {
    const file = csv('rec,label\nr1,a\nr2,b\n');
    const res = await validate([file], { label_column: 'label', instance_column: 'label' });
    expect(res.errors).toEqual([{ file_id: file.id, message: 'instance_column and label_column must be different columns (both are "label")' }]);
  });

  it('counts instances without a label column and leaves unlabelled rows out of the balance', async () => {
    const file = csv('rec,x,label\nr1,1,\nr1,2,\nr2,3,a\nr3,4,b\n');
    expect((await validate([file], { instance_column: 'rec' })).stats.instances).toEqual({ count: 3, min_length: 1, median_length: 1, max_length: 2 });
    const labelled = await validate([file], { instance_column: 'rec', label_column: 'label' });
    expect(labelled.errors).toEqual([]);
    expect(labelled.stats.instances).toEqual({ count: 3, min_length: 1, median_length: 1, max_length: 2, per_class: { a: 1, b: 1 }, unlabelled: 1 });
  });
});
