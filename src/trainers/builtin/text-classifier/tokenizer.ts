/**
 * A fastText-style tokenizer whose vocabulary is fitted on the training split: words, word
 * bigrams (fasttext only) and character n-grams of words (3-5 characters, with `<`/`>` word
 * boundaries), each kept by frequency within a share of `vocab_size`. An explicit vocabulary
 * rather than fastText's hashing trick: collisions cost accuracy on small vocabularies, and a
 * vocabulary can be read, diffed and audited ("which tokens does this model know?").
 *
 * The fasttext model averages every feature of a text (words, bigrams, all n-grams); the
 * transformer reads the word sequence, where a word outside the vocabulary is spelled with its
 * known n-grams (greedy longest match, WordPiece-style), so "ign0re" still lands near "ignore".
 */

export const TOKENIZER_FORMAT = 'trainyard.text-classifier.tokenizer';
export const PAD = 0;
export const UNK = 1;
const SPECIALS = ['[PAD]', '[UNK]'];
const NGRAM_MIN = 3;
const NGRAM_MAX = 5;

/** tokenizer.json: everything `encode` needs, nothing run-specific. */
export interface TokenizerJson {
  format: typeof TOKENIZER_FORMAT;
  version: 1;
  normalization: 'nfkc+lowercase+strip-format+latin-confusables';
  /** Words per text (and tokens per sequence) beyond this are cut. */
  max_length: number;
  ngram_range: [number, number];
  specials: string[];
  /** Ids follow this order: specials, words, bigrams, ngrams; each list by training frequency. */
  words: string[];
  bigrams: string[];
  ngrams: string[];
}

/**
 * Cyrillic and Greek letters that render like Latin ones. Folded only inside words that also
 * hold a Latin letter: "іgnоrе" with Cyrillic і/о/е is an attack, "привет" is Russian.
 */
const CONFUSABLES: Record<string, string> = {
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  з: '3',
  і: 'i',
  ї: 'i',
  ј: 'j',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  ѕ: 's',
  ԁ: 'd',
  һ: 'h',
  ӏ: 'l',
  ԛ: 'q',
  ԝ: 'w',
  α: 'a',
  β: 'b',
  ε: 'e',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
};
const CONFUSABLE_CLASS = new RegExp(`[${Object.keys(CONFUSABLES).join('')}]`, 'gu');
const LATIN = /[a-z]/;
/** Format characters (zero-width space/joiners, bidi overrides, soft hyphen, BOM) and invisible fillers. */
const INVISIBLE = /[\p{Cf}\u034f\u115f\u1160\u3164\uffa0]/gu;
/** A word is a run of letters, marks, digits and underscores; any other visible character stands alone. */
const WORD = /[\p{L}\p{M}\p{N}_]+|[^\s\p{L}\p{M}\p{N}_]/gu;

/** NFKC folds full-width, ligature and math-alphanumeric look-alikes ("ｉｇｎｏｒｅ", "𝐢𝐠𝐧𝐨𝐫𝐞") into plain letters. */
export function normalize(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(INVISIBLE, '');
}

/** The words of a text after normalization, at most `maxLength`. */
export function splitWords(text: string, maxLength: number): string[] {
  const words = normalize(text).match(WORD) ?? [];
  if (words.length > maxLength) words.length = maxLength;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w.length > 1 && LATIN.test(w)) words[i] = w.replace(CONFUSABLE_CLASS, (c) => CONFUSABLES[c]!);
  }
  return words;
}

/** fastText's subwords: n-grams of "<word>"; single characters (punctuation) have none. */
export function charNgrams(word: string): string[] {
  const chars = [...`<${word}>`];
  if (chars.length <= 3) return [];
  const out: string[] = [];
  for (let n = NGRAM_MIN; n <= NGRAM_MAX; n++) {
    for (let i = 0; i + n <= chars.length; i++) if (n < chars.length) out.push(chars.slice(i, i + n).join(''));
  }
  return out;
}

export interface FitOptions {
  vocabSize: number;
  maxLength: number;
  /** Word bigrams help a bag-of-features model; a transformer sees word order itself. */
  bigrams: boolean;
}

const bump = (m: Map<string, number>, key: string, by = 1): void => void m.set(key, (m.get(key) ?? 0) + by);
/** Most frequent first, ties by code unit order: never locale-dependent, so the same on every machine. */
const byCount = (m: Map<string, number>, minCount: number): [string, number][] =>
  [...m].filter(([, c]) => c >= minCount).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

/**
 * Counts over the training texts only, then fills each kind's share of the vocabulary with its
 * most frequent entries; what a kind leaves unused goes to the most frequent leftovers of the
 * others. Bigrams and n-grams seen once are noise, words seen once are kept (as fastText does).
 */
export function fitTokenizer(texts: Iterable<string>, o: FitOptions): Tokenizer {
  const words = new Map<string, number>();
  const bigrams = new Map<string, number>();
  for (const text of texts) {
    const ws = splitWords(text, o.maxLength);
    ws.forEach((w, i) => {
      bump(words, w);
      if (o.bigrams && i > 0) bump(bigrams, `${ws[i - 1]} ${w}`);
    });
  }
  const ngrams = new Map<string, number>();
  for (const [w, c] of words) for (const g of charNgrams(w)) bump(ngrams, g, c);

  const budget = Math.max(0, o.vocabSize - SPECIALS.length);
  const shares = o.bigrams ? [0.5, 0.25, 0.25] : [0.6, 0, 0.4];
  const ranked = [byCount(words, 1), byCount(bigrams, 2), byCount(ngrams, 2)];
  const taken = ranked.map((list, k) => Math.min(list.length, Math.floor(budget * shares[k]!)));
  let left = budget - taken.reduce((a, b) => a + b, 0);
  // Leftover slots: repeatedly give one to the kind whose next candidate is most frequent.
  while (left > 0) {
    let best = -1;
    for (let k = 0; k < 3; k++) if (taken[k]! < ranked[k]!.length && (best < 0 || ranked[k]![taken[k]!]![1] > ranked[best]![taken[best]!]![1])) best = k;
    if (best < 0) break;
    taken[best]!++;
    left--;
  }
  const pick = (k: number): string[] => ranked[k]!.slice(0, taken[k]).map(([s]) => s);
  return new Tokenizer({
    format: TOKENIZER_FORMAT,
    version: 1,
    normalization: 'nfkc+lowercase+strip-format+latin-confusables',
    max_length: o.maxLength,
    ngram_range: [NGRAM_MIN, NGRAM_MAX],
    specials: SPECIALS,
    words: pick(0),
    bigrams: pick(1),
    ngrams: pick(2),
  });
}

export class Tokenizer {
  /** Total ids, specials included: the embedding table's row count. */
  readonly size: number;
  private readonly ids = new Map<string, number>();
  private readonly bigramIds = new Map<string, number>();
  private readonly ngramIds = new Map<string, number>();
  private readonly longestNgram: number;

  constructor(readonly json: TokenizerJson) {
    let id = json.specials.length;
    for (const w of json.words) this.ids.set(w, id++);
    for (const b of json.bigrams) this.bigramIds.set(b, id++);
    for (const g of json.ngrams) this.ngramIds.set(g, id++);
    this.size = id;
    this.longestNgram = json.ngram_range[1];
  }

  get maxLength(): number {
    return this.json.max_length;
  }

  /** Is `token` (a word, "w1 w2" bigram or n-gram such as "<ign") in the vocabulary? */
  has(token: string): boolean {
    return this.ids.has(token) || this.bigramIds.has(token) || this.ngramIds.has(token);
  }

  /** Feature ids of a text for the embedding bag: words, bigrams and every word's n-grams. Never empty. */
  bag(text: string): Int32Array {
    const words = splitWords(text, this.json.max_length);
    const out: number[] = [];
    words.forEach((w, i) => {
      const id = this.ids.get(w);
      if (id !== undefined) out.push(id);
      if (i > 0 && this.bigramIds.size > 0) {
        const b = this.bigramIds.get(`${words[i - 1]} ${w}`);
        if (b !== undefined) out.push(b);
      }
      for (const g of charNgrams(w)) {
        const n = this.ngramIds.get(g);
        if (n !== undefined) out.push(n);
      }
    });
    if (out.length === 0) out.push(UNK);
    return Int32Array.from(out);
  }

  /** Token ids in reading order for a sequence model, at most max_length, never empty. */
  sequence(text: string): Int32Array {
    const out: number[] = [];
    for (const w of splitWords(text, this.json.max_length)) {
      const id = this.ids.get(w);
      if (id !== undefined) out.push(id);
      else this.spell(w, out);
      if (out.length >= this.json.max_length) break;
    }
    if (out.length > this.json.max_length) out.length = this.json.max_length;
    if (out.length === 0) out.push(UNK);
    return Int32Array.from(out);
  }

  /** Greedy longest-match over "<word>" with known n-grams; one [UNK] for whatever cannot be covered. */
  private spell(word: string, out: number[]): void {
    const chars = [...`<${word}>`];
    let unknown = false;
    for (let i = 0; i < chars.length;) {
      let matched = 0;
      for (let n = Math.min(this.longestNgram, chars.length - i); n >= this.json.ngram_range[0] && !matched; n--) {
        const id = this.ngramIds.get(chars.slice(i, i + n).join(''));
        if (id !== undefined) {
          out.push(id);
          matched = n;
        }
      }
      if (matched) i += matched;
      else {
        if (!unknown) out.push(UNK);
        unknown = true;
        i++;
      }
    }
  }

  static fromJson(value: unknown, where = 'tokenizer.json'): Tokenizer {
    const t = value as TokenizerJson;
    const strings = (x: unknown): boolean => Array.isArray(x) && x.every((s) => typeof s === 'string');
    const ok =
      t?.format === TOKENIZER_FORMAT &&
      t.version === 1 &&
      Number.isInteger(t.max_length) &&
      t.max_length > 0 &&
      Array.isArray(t.ngram_range) &&
      t.ngram_range[0] === NGRAM_MIN &&
      t.ngram_range[1] === NGRAM_MAX &&
      strings(t.specials) &&
      t.specials.length === SPECIALS.length &&
      strings(t.words) &&
      strings(t.bigrams) &&
      strings(t.ngrams);
    if (!ok) throw new Error(`${where} is not a ${TOKENIZER_FORMAT} version 1 file`);
    return new Tokenizer(t);
  }
}
