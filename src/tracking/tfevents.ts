/**
 * TensorBoard event files without TensorFlow: the TFRecord framing (length, masked CRC-32C of
 * the length, payload, masked CRC-32C of the payload) around hand-encoded `Event` protobufs.
 * Only what a training run needs is written: the file_version event TensorBoard expects
 * first, scalar summaries (`Summary.Value.simple_value`) and PNG image summaries
 * (`Summary.Image`). Field numbers are tensorflow/core/util/event.proto and summary.proto's.
 */

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli), the checksum TFRecord uses. */
export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC32C_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masking, so a CRC over data that itself holds CRCs stays informative. */
export function maskedCrc32c(buf: Uint8Array): number {
  const c = crc32c(buf);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: u64 length, masked crc of the length, the data, masked crc of the data (all little-endian). */
export function tfRecord(data: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeBigUInt64LE(BigInt(data.length), 0);
  head.writeUInt32LE(maskedCrc32c(head.subarray(0, 8)), 8);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(maskedCrc32c(data), 0);
  return Buffer.concat([head, data, tail]);
}

// --- protobuf wire format: just the field kinds Event uses ---------------------------------

function varint(n: bigint | number): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return Buffer.from(out);
}

const key = (field: number, wire: number) => varint((field << 3) | wire);
const lenField = (field: number, bytes: Buffer) => Buffer.concat([key(field, 2), varint(bytes.length), bytes]);
const strField = (field: number, s: string) => lenField(field, Buffer.from(s, 'utf8'));
const intField = (field: number, n: number) => Buffer.concat([key(field, 0), varint(n)]);
function doubleField(field: number, x: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return Buffer.concat([key(field, 1), b]);
}
function floatField(field: number, x: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return Buffer.concat([key(field, 5), b]);
}

export interface PngImage {
  png: Buffer;
}

/** Width, height and TensorBoard colorspace of a PNG, from its IHDR chunk; null for anything else. */
export function pngInfo(png: Buffer): { width: number; height: number; colorspace: number } | null {
  if (png.length < 26 || png.readUInt32BE(0) !== 0x89504e47 || png.toString('latin1', 12, 16) !== 'IHDR') return null;
  // PNG color type → Summary.Image colorspace (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA).
  const colorspace = ({ 0: 1, 4: 2, 2: 3, 3: 3, 6: 4 } as Record<number, number>)[png[25]!] ?? 3;
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), colorspace };
}

type Value = { tag: string; scalar: number } | { tag: string; png: Buffer };

function summaryValue(v: Value): Buffer {
  if ('scalar' in v) return Buffer.concat([strField(1, v.tag), floatField(2, v.scalar)]);
  const info = pngInfo(v.png);
  if (!info) throw new Error(`image ${v.tag} is not a PNG`);
  const image = Buffer.concat([intField(1, info.height), intField(2, info.width), intField(3, info.colorspace), lenField(4, v.png)]);
  return Buffer.concat([strField(1, v.tag), lenField(4, image)]);
}

/** An Event with a Summary: wall_time (seconds), step, the values. */
export function summaryEvent(wallTime: number, step: number, values: Value[]): Buffer {
  const summary = Buffer.concat(values.map((v) => lenField(1, summaryValue(v))));
  return Buffer.concat([doubleField(1, wallTime), intField(2, step), lenField(5, summary)]);
}

/** The first event of every file: TensorBoard reads the format version from it. */
export function fileVersionEvent(wallTime: number): Buffer {
  return Buffer.concat([doubleField(1, wallTime), strField(3, 'brain.Event:2')]);
}

export interface ScalarPoint {
  tag: string;
  step: number;
  value: number;
  /** Seconds since the epoch. */
  wallTime: number;
}

export interface ImagePoint {
  tag: string;
  step: number;
  png: Buffer;
  wallTime: number;
}

/** A whole events file: the version event, then one event per scalar and per image, in step order. */
export function eventsFile(o: { wallTime: number; scalars: ScalarPoint[]; images: ImagePoint[] }): Buffer {
  const events: Array<{ step: number; wallTime: number; value: Value }> = [
    ...o.scalars.filter((s) => Number.isFinite(s.value)).map((s) => ({ step: s.step, wallTime: s.wallTime, value: { tag: s.tag, scalar: s.value } })),
    ...o.images.filter((i) => pngInfo(i.png)).map((i) => ({ step: i.step, wallTime: i.wallTime, value: { tag: i.tag, png: i.png } })),
  ];
  events.sort((a, b) => a.step - b.step || a.wallTime - b.wallTime);
  return Buffer.concat([tfRecord(fileVersionEvent(o.wallTime)), ...events.map((e) => tfRecord(summaryEvent(e.wallTime, e.step, [e.value])))]);
}

/**
 * `train/loss`, `val/accuracy`: TensorBoard groups charts by the part before the slash, so the
 * usual prefixes become sections; other names stay as they are.
 */
export function metricTag(name: string): string {
  const m = /^(train|val|validation|test|eval)_(.+)$/.exec(name);
  return m ? `${m[1] === 'validation' ? 'val' : m[1]}/${m[2]}` : name;
}
