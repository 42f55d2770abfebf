/** What the run's JUnit report says: one testcase per operation, failed ones with their messages. */
export interface JunitSummary {
  tests: number;
  failures: number;
  errors: number;
  failed: Array<{ operation: string; message: string }>;
}

const attr = (tag: string, name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(tag)?.[1] ?? 0);
const unescape = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, '&');

/** A small reader for the one shape schemathesis writes; no XML library for it. */
export function parseJunit(xml: string): JunitSummary {
  const suite = /<testsuite\b[^>]*>/.exec(xml)?.[0] ?? '';
  const failed: JunitSummary['failed'] = [];
  // A passing testcase is self-closing (<testcase …/>): matched whole, so a failure's body is
  // never attributed to the passing operation before it.
  for (const m of xml.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const name = /\bname="([^"]*)"/.exec(m[1]!)?.[1] ?? '';
    const body = m[2] ?? '';
    const f = /<(failure|error)\b([^>]*)(?:\/>|>([\s\S]*?)<\/\1>)/.exec(body);
    if (!f) continue;
    const message = /message="([^"]*)"/.exec(f[2]!)?.[1] ?? '';
    failed.push({
      operation: unescape(name),
      message: unescape(`${message}\n${f[3] ?? ''}`)
        .trim()
        .slice(0, 4000),
    });
  }
  return { tests: attr(suite, 'tests'), failures: attr(suite, 'failures'), errors: attr(suite, 'errors'), failed };
}
