import { describe, expect, it } from 'vitest';
import { crc32c, eventsFile, maskedCrc32c, metricTag, pngInfo } from '../../src/tracking/tfevents.js';

// The TensorBoard writer, read back by a tiny independent reader (TFRecord framing + the few
// protobuf fields written). The MLflow test reads real files with tensorboard's own reader.

function readVarint(b: Buffer, at: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const byte = b[at++]!;
    v |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return [v, at];
    shift += 7n;
  }
}

/** field number → the values seen (numbers for varint/fixed, Buffers for length-delimited). */
function fields(b: Buffer): Map<number, Array<number | bigint | Buffer>> {
  const out = new Map<number, Array<number | bigint | Buffer>>();
  let at = 0;
  while (at < b.length) {
    const [k, next] = readVarint(b, at);
    at = next;
    const field = Number(k >> 3n);
    const wire = Number(k & 7n);
    let v: number | bigint | Buffer;
    if (wire === 0) [v, at] = readVarint(b, at);
    else if (wire === 1) {
      v = b.readDoubleLE(at);
      at += 8;
    } else if (wire === 5) {
      v = b.readFloatLE(at);
      at += 4;
    } else {
      const [len, start] = readVarint(b, at);
      v = b.subarray(start, start + Number(len));
      at = start + Number(len);
    }
    out.set(field, [...(out.get(field) ?? []), v]);
  }
  return out;
}

function records(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < file.length) {
    const len = Number(file.readBigUInt64LE(at));
    expect(file.readUInt32LE(at + 8)).toBe(maskedCrc32c(file.subarray(at, at + 8)));
    const data = file.subarray(at + 12, at + 12 + len);
    expect(file.readUInt32LE(at + 12 + len)).toBe(maskedCrc32c(data));
    out.push(data);
    at += 16 + len;
  }
  return out;
}

/** A 3×2 RGB PNG header is all pngInfo reads. */
function pngHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  b[24] = 8;
  b[25] = 2;
  return b;
}

describe('tfevents', () => {
  it('crc32c matches the known vectors', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('writes the version event first, then scalars and images in step order', () => {
    const png = pngHeader(3, 2);
    const file = eventsFile({
      wallTime: 1000,
      scalars: [
        { tag: 'train/loss', step: 2, value: 0.5, wallTime: 1002 },
        { tag: 'train/loss', step: 1, value: 0.75, wallTime: 1001 },
        { tag: 'nan', step: 1, value: NaN, wallTime: 1001 },
      ],
      images: [{ tag: 'samples/0', step: 3, png, wallTime: 1003 }],
    });
    const events = records(file).map(fields);
    expect(events).toHaveLength(4);
    expect(events[0]!.get(3)![0]!.toString()).toBe('brain.Event:2');
    expect(events[0]!.get(1)![0]).toBe(1000);
    const scalar = (e: Map<number, unknown[]>) => {
      const value = fields(fields(e.get(5)![0] as Buffer).get(1)![0] as Buffer);
      return { step: Number(e.get(2)![0]), tag: value.get(1)![0]!.toString(), value: value.get(2)![0] };
    };
    expect(scalar(events[1]!)).toEqual({ step: 1, tag: 'train/loss', value: 0.75 });
    expect(scalar(events[2]!)).toEqual({ step: 2, tag: 'train/loss', value: 0.5 });
    const img = fields(fields(fields(events[3]!.get(5)![0] as Buffer).get(1)![0] as Buffer).get(4)![0] as Buffer);
    expect([img.get(1)![0], img.get(2)![0], img.get(3)![0]]).toEqual([2n, 3n, 3n]);
    expect(Buffer.compare(img.get(4)![0] as Buffer, png)).toBe(0);
  });

  it('reads PNG sizes, refuses other bytes, and maps metric names to sections', () => {
    expect(pngInfo(pngHeader(640, 480))).toEqual({ width: 640, height: 480, colorspace: 3 });
    expect(pngInfo(Buffer.from('GIF89a-not-a-png-at-all-xyz'))).toBeNull();
    expect(metricTag('train_loss')).toBe('train/loss');
    expect(metricTag('validation_accuracy')).toBe('val/accuracy');
    expect(metricTag('score')).toBe('score');
  });
});
