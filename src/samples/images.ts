import { rng } from './rng.js';

/**
 * A small image set for trying image trainers: one "subject" (a robot mascot) drawn at
 * different positions, sizes, angles and backgrounds, like the 10–30 photos a LoRA wants.
 */
export async function imageSet(count = 12, size = 256, seed = 3): Promise<Array<{ name: string; png: Buffer }>> {
  // sharp (libvips) is imported when an image set is made, not when the server loads this module.
  const { default: sharp } = await import('sharp');
  const r = rng(seed);
  const backgrounds = ['#f4e1c1', '#c1d8f4', '#d4f4c1', '#f4c1d8', '#e8e8e8', '#fff6d6'];
  const out = [];
  for (let i = 0; i < count; i++) {
    const cx = size * (0.35 + 0.3 * r.next());
    const cy = size * (0.4 + 0.2 * r.next());
    const s = size * (0.22 + 0.12 * r.next());
    const angle = Math.round(-20 + 40 * r.next());
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">
      <rect width="100%" height="100%" fill="${r.pick(backgrounds)}"/>
      <circle cx="${(size * r.next()).toFixed(0)}" cy="${(size * r.next()).toFixed(0)}" r="${(size * 0.3).toFixed(0)}" fill="#ffffff" opacity="0.35"/>
      <g transform="rotate(${angle} ${cx} ${cy})">
        <rect x="${cx - s / 2}" y="${cy - s / 2}" width="${s}" height="${s}" rx="${s / 6}" fill="#e2572b"/>
        <circle cx="${cx - s / 5}" cy="${cy - s / 8}" r="${s / 9}" fill="#fff"/><circle cx="${cx + s / 5}" cy="${cy - s / 8}" r="${s / 9}" fill="#fff"/>
        <circle cx="${cx - s / 5}" cy="${cy - s / 8}" r="${s / 20}" fill="#222"/><circle cx="${cx + s / 5}" cy="${cy - s / 8}" r="${s / 20}" fill="#222"/>
        <rect x="${cx - s / 4}" y="${cy + s / 6}" width="${s / 2}" height="${s / 12}" rx="${s / 24}" fill="#222"/>
        <line x1="${cx}" y1="${cy - s / 2}" x2="${cx}" y2="${cy - s * 0.8}" stroke="#222" stroke-width="${s / 30}"/>
        <circle cx="${cx}" cy="${cy - s * 0.82}" r="${s / 14}" fill="#f2c12e"/>
      </g></svg>`;
    out.push({ name: `robot-${String(i + 1).padStart(2, '0')}.png`, png: await sharp(Buffer.from(svg)).png().toBuffer() });
  }
  return out;
}
