/**
 * The "auto" settings (issue #18), resolved once from the training data and recorded in the
 * result details and preprocessing.json, so a version says what it actually ran with.
 */
import type { ModelType } from './models.js';

/** What model_type may name: the deep architectures, MiniRocket, or auto. */
export type ModelChoice = ModelType | 'minirocket' | 'auto';
export type ResolvedModel = ModelType | 'minirocket';

export interface DataShape {
  /** Instance mode (dataset option instance_column). */
  instances: boolean;
  /** Training instances (instance mode) or training rows (stream mode). */
  trainInstances: number;
  /** Rows of the longest training instance (stream mode: the longest run of one label). */
  longestInstance: number;
}

/**
 * MiniRocket on recording datasets of up to 2,000 training recordings, a deep architecture
 * otherwise (and on continuous streams without instances, where a window is not a recording).
 * Measured with bench/ucr-eval.ts (bench/README.md): MiniRocket matched aeon's on BasicMotions
 * (100 %), JapaneseVowels (98.6 % against 98.4 %) and GunPoint (99.3 %) in seconds, while
 * the deep architectures' defaults scored 95-96 % on JapaneseVowels in 30-45 s and 50-73 % on
 * GunPoint. Recordings shorter than MiniRocket's kernel (9 rows) are padded to 9, which still
 * works (JapaneseVowels has 7-row recordings); only when every recording is shorter than that
 * is there no shape in time to find, and the deep model is used. Above 2,000 recordings the
 * ridge's leave-one-out choice runs on a subsample and the deep models have data to learn from.
 */
export function chooseModelType(asked: ModelChoice, data: DataShape): ResolvedModel {
  if (asked !== 'auto') return asked;
  return data.instances && data.trainInstances <= 2000 && data.longestInstance >= 9 ? 'minirocket' : 'enhanced_cnn_lstm';
}

/** Without instances a window is a stretch of a continuous stream: 32 rows, as before issue #18. */
export const STREAM_SEQUENCE_LENGTH = 32;

/**
 * sequence_length "auto" in instance mode: windows of about a quarter of a typical (median)
 * recording, at least 16 rows, never longer than the shortest recording (so no training
 * window is padded), capped at the catalog's 1024. Short windows with a soft vote over each
 * recording beat whole-recording windows on small datasets: more, overlapping training
 * examples per recording, and a vote that averages out the windows' errors. Measured
 * (enhanced_cnn_lstm, 40 epochs, constant learning rate, cpu backend, standard train/test
 * splits, test accuracy per recording, one seed): BasicMotions auto 25 rows 100% vs whole 100
 * rows 60%; GunPoint auto 38 rows 64.7% vs whole 150 rows 50.7%; JapaneseVowels (7-29 rows)
 * auto 7 rows 93.0% vs 16 rows (short recordings padded) 88.1%.
 */
export function autoSequenceLength(lengths: readonly number[]): number {
  if (lengths.length === 0) return STREAM_SEQUENCE_LENGTH;
  const sorted = [...lengths].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return Math.max(1, Math.min(1024, sorted[0]!, Math.max(16, Math.ceil(median / 4))));
}

export { resolvePatience } from './train.js';
