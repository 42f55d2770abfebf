import { describe, expect, it } from 'vitest';
import { sniff } from '../../src/domain/files/sniff.js';

const CSV = 'name,score,label\nada,0.91,yes\nbob,0.12,no\ncarol,0.55,yes\n';

/** The same text in the wide encodings spreadsheet programs save ("Unicode text"). */
function encode(text: string, encoding: string, bom: boolean): Buffer {
  const le = Buffer.from(text, 'utf16le');
  const units = encoding.startsWith('UTF-32') ? Buffer.concat([...text].map((c) => Buffer.from([c.codePointAt(0)!, 0, 0, 0]))) : le;
  let body = units;
  if (encoding.endsWith('BE')) {
    body = Buffer.from(units);
    const w = encoding.startsWith('UTF-32') ? 4 : 2;
    for (let i = 0; i < body.length; i += w) body.subarray(i, i + w).reverse();
  }
  const marks: Record<string, number[]> = {
    'UTF-16LE': [0xff, 0xfe],
    'UTF-16BE': [0xfe, 0xff],
    'UTF-32LE': [0xff, 0xfe, 0, 0],
    'UTF-32BE': [0, 0, 0xfe, 0xff],
  };
  return bom ? Buffer.concat([Buffer.from(marks[encoding]!), body]) : body;
}

describe('sniff: wide text encodings (issue #10)', () => {
  for (const encoding of ['UTF-16LE', 'UTF-16BE', 'UTF-32LE', 'UTF-32BE']) {
    for (const bom of [true, false]) {
      it(`names ${encoding} ${bom ? 'with' : 'without'} a BOM and asks for UTF-8`, async () => {
        const bytes = encode(CSV, encoding, bom);
        const err = await sniff(bytes, bytes.length, 'scores.csv').catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'TEXT_ENCODING_UNSUPPORTED', status: 415, details: { encoding, required: 'UTF-8' } });
        expect((err as Error).message).toContain(`${encoding} text`);
        expect((err as Error).message).toContain('UTF-8');
      });
    }
  }

  it('still takes UTF-8 (with or without a BOM) as CSV, and still refuses unknown binary as before', async () => {
    const utf8 = Buffer.from(CSV);
    expect(await sniff(utf8, utf8.length, 'a.csv')).toBe('text/csv');
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]);
    expect(await sniff(withBom, withBom.length, 'a.csv')).toBe('text/csv');
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 37 + 11) % 256));
    await expect(sniff(binary, binary.length, 'x.bin')).rejects.toMatchObject({ code: 'UNSUPPORTED_FILE_TYPE' });
  });
});
