import { rng } from './rng.js';

/**
 * Relative band power (alpha, beta, theta, delta, gamma) per 250 ms window, as an EEG
 * headset's pipeline would export it. Each state has its textbook signature — relaxed: alpha
 * up; focused: beta and gamma up; drowsy: theta and delta up — blurred by log-normal noise, a
 * slow drift (electrode impedance, fatigue) and 1/f-like autocorrelation between windows.
 * States come in blocks of 10–40 s, as in a real session.
 */
const SIGNATURES: Record<string, [number, number, number, number, number]> = {
  relaxed: [0.36, 0.16, 0.18, 0.22, 0.08],
  focused: [0.16, 0.34, 0.14, 0.18, 0.18],
  drowsy: [0.12, 0.1, 0.3, 0.4, 0.08],
};
export const EEG_STATES = Object.keys(SIGNATURES);

export function eegCsv(rows = 6000, seed = 1): string {
  const r = rng(seed);
  const lines = ['timestamp,alpha,beta,theta,delta,gamma,state'];
  const t0 = Date.UTC(2026, 0, 5, 9, 0, 0);
  let state = r.pick(EEG_STATES);
  let left = 40 + Math.floor(r.next() * 120);
  let prev = [0, 0, 0, 0, 0];
  for (let i = 0; i < rows; i++) {
    if (left-- <= 0) {
      state = r.pick(EEG_STATES.filter((s) => s !== state));
      left = 40 + Math.floor(r.next() * 120);
    }
    const drift = 0.15 * Math.sin((2 * Math.PI * i) / 2400);
    const base = SIGNATURES[state]!;
    // AR(1) noise: neighbouring windows overlap in time, so their errors correlate.
    prev = prev.map((p) => 0.6 * p + 0.4 * r.normal());
    const raw = base.map((b, k) => b * Math.exp(0.28 * prev[k]! + (k === 0 ? drift : -drift / 4)));
    const sum = raw.reduce((a, b) => a + b, 0);
    const values = raw.map((x) => (x / sum).toFixed(5));
    lines.push(`${new Date(t0 + i * 250).toISOString()},${values.join(',')},${state}`);
  }
  return lines.join('\n') + '\n';
}
