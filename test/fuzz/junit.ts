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
  for (const m of xml.matchAll(/<testcase\b[^>]*\bname="([^"]*)"[^>]*>([\s\S]*?)<\/testcase>/g)) {
    const body = m[2]!;
    const f = /<(failure|error)\b([^>]*)(?:\/>|>([\s\S]*?)<\/\1>)/.exec(body);
    if (!f) continue;
    const message = /message="([^"]*)"/.exec(f[2]!)?.[1] ?? '';
    failed.push({
      operation: unescape(m[1]!),
      message: unescape(`${message}\n${f[3] ?? ''}`)
        .trim()
        .slice(0, 4000),
    });
  }
  return { tests: attr(suite, 'tests'), failures: attr(suite, 'failures'), errors: attr(suite, 'errors'), failed };
}
