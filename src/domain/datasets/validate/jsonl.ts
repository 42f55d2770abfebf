import type { Readable } from 'node:stream';
import { findBadText, TEXT_PROBLEM_MESSAGES } from '../../schema-kit.js';
import { ClassCounter, IssueList, round2 } from './types.js';
import type { DatasetFileInput, DatasetOptions, ValidationLimits, ValidationResult } from './types.js';

/** One physical line: its text, or why it could not be read (then `text` is absent). */
export interface Line {
  line: number;
  text?: string;
  problem?: string;
}

/**
 * Splits a byte stream into lines without ever holding more than one line (capped at
 * `maxLineBytes`) in memory: an over-long line is dropped as it streams past, which keeps a
 * multi-GB file with no newline from exhausting the heap. Works on bytes, not strings, so a
 * UTF-8 character split across chunks is never mangled and invalid UTF-8 is reported per line.
 */
export async function* readLines(stream: Readable, maxLineBytes: number): AsyncGenerator<Line> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let parts: Buffer[] = [];
  let size = 0;
  let overflow = false;
  let lineNo = 1;

  const append = (piece: Buffer): void => {
    if (overflow || piece.length === 0) return;
    // The limit is on the content; a CRLF terminator's '\r' is allowed on top of it.
    if (size + piece.length > maxLineBytes + 1) {
      overflow = true;
      parts = [];
      size = 0;
      return;
    }
    parts.push(piece);
    size += piece.length;
  };

  const finish = (): Line => {
    const line = lineNo++;
    if (overflow) {
      overflow = false;
      return { line, problem: `line is longer than ${maxLineBytes} bytes` };
    }
    let buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    if (buf.length > 0 && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, -1);
    if (buf.length > maxLineBytes) return { line, problem: `line is longer than ${maxLineBytes} bytes` };
    if (line === 1 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    try {
      return { line, text: decoder.decode(buf) };
    } catch {
      return { line, problem: 'not valid UTF-8' };
    }
  };

  for await (const raw of stream) {
    const chunk: Buffer = typeof raw === 'string' ? Buffer.from(raw) : (raw as Buffer);
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(0x0a, start)) !== -1) {
      append(chunk.subarray(start, nl));
      yield finish();
      start = nl + 1;
    }
    append(chunk.subarray(start));
  }
  // A last line without a terminating newline still counts; an empty tail after '\n' does not.
  if (size > 0 || overflow) yield finish();
}

/** A JSON Lines file may have been sniffed as any of these, depending on its first lines. */
const JSONL_TYPES = new Set(['application/x-ndjson', 'application/json', 'text/plain']);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isInteger(value)) return `number ${value}`;
  return typeof value;
}

/**
 * Walks every non-empty line of every file as a parsed JSON object, reporting everything
 * that is not one. `onObject` returns the problems of a well-formed object (empty = valid).
 * The row limit is dataset-wide: past it the caller gets no more rows and validation stops.
 */
async function eachObject(
  files: readonly DatasetFileInput[],
  limits: ValidationLimits,
  issues: IssueList,
  onObject: (obj: Record<string, unknown>) => string[],
): Promise<void> {
  let rows = 0;
  for (const file of files) {
    if (!JSONL_TYPES.has(file.contentType)) {
      issues.add({ file_id: file.id, message: `not a JSON Lines file (content is ${file.contentType})` });
      continue;
    }
    const stream = await file.open();
    for await (const { line, text, problem } of readLines(stream, limits.maxLineBytes)) {
      if (text === undefined) {
        issues.atLine(file.id, line, problem ?? 'unreadable line');
        continue;
      }
      if (text.trim() === '') continue;
      if (++rows > limits.maxRows) {
        issues.atLine(file.id, line, `more than ${limits.maxRows} rows in the dataset`);
        stream.destroy();
        return;
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        issues.atLine(file.id, line, `invalid JSON: ${(err as Error).message}`);
        continue;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        issues.atLine(file.id, line, `expected a JSON object, got ${describe(value)}`);
        continue;
      }
      // A "\u0000" escape or a lone surrogate parses fine but cannot be stored (stats are jsonb).
      const bad = findBadText(value, 'value');
      if (bad) {
        issues.atLine(file.id, line, `${bad.path}: ${TEXT_PROBLEM_MESSAGES[bad.problem]}`);
        continue;
      }
      const problems = onObject(value as Record<string, unknown>);
      if (problems.length > 0) issues.atLine(file.id, line, problems.join('; '));
    }
  }
}

/** Text length in characters (code points), which is what a user means by "length". */
function charLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}

export async function validateTextClassification(
  files: readonly DatasetFileInput[],
  options: DatasetOptions,
  limits: ValidationLimits,
): Promise<ValidationResult> {
  const issues = new IssueList(limits.maxErrors);
  const textField = options.text_field ?? 'text';
  const labelField = options.label_field ?? 'label';
  const classes = new ClassCounter();
  let rowCount = 0;
  let totalLength = 0;
  let maxLength = 0;

  await eachObject(files, limits, issues, (obj) => {
    const problems: string[] = [];
    const text = obj[textField];
    const label = obj[labelField];
    if (text === undefined) problems.push(`missing "${textField}"`);
    else if (typeof text !== 'string') problems.push(`"${textField}" must be a string, got ${describe(text)}`);
    else if (text.trim() === '') problems.push(`"${textField}" is empty`);
    if (label === undefined) problems.push(`missing "${labelField}"`);
    else if (!(typeof label === 'string' || Number.isInteger(label))) problems.push(`"${labelField}" must be a string or an integer, got ${describe(label)}`);
    else if (typeof label === 'string' && label.trim() === '') problems.push(`"${labelField}" is empty`);
    if (problems.length > 0) return problems;

    const length = charLength(text as string);
    rowCount++;
    totalLength += length;
    maxLength = Math.max(maxLength, length);
    if (!classes.add(label as string | number)) problems.push(`more than ${classes.size} distinct labels; is "${labelField}" really a class label?`);
    return problems;
  });

  if (classes.size < 2 && files[0]) {
    issues.add({ file_id: files[0].id, message: `a classifier needs at least 2 classes, found ${classes.size}` });
  }
  return issues.result({
    row_count: rowCount,
    class_counts: classes.toJSON(),
    avg_text_length: rowCount === 0 ? 0 : round2(totalLength / rowCount),
    max_text_length: maxLength,
  });
}

const ROLES = ['system', 'user', 'assistant', 'tool'] as const;
type Role = (typeof ROLES)[number];
const isRole = (r: unknown): r is Role => (ROLES as readonly unknown[]).includes(r);

/** A conversation with a hundred bad messages needs one line of explanation, not a hundred. */
const MAX_PROBLEMS_PER_LINE = 3;

export async function validateChat(files: readonly DatasetFileInput[], _options: DatasetOptions, limits: ValidationLimits): Promise<ValidationResult> {
  const issues = new IssueList(limits.maxErrors);
  const roleCounts: Record<Role, number> = { system: 0, user: 0, assistant: 0, tool: 0 };
  let conversations = 0;
  let messageCount = 0;

  let texts = 0;
  await eachObject(files, limits, issues, (obj) => {
    const messages = obj.messages;
    // Plain-text lines ({"text": "..."}) train a language model on the whole text (continued pretraining).
    if (messages === undefined && obj.text !== undefined) {
      if (typeof obj.text !== 'string') return [`"text" must be a string, got ${describe(obj.text)}`];
      if (obj.text.trim() === '') return ['"text" is empty'];
      texts++;
      return [];
    }
    if (messages === undefined) return ['missing "messages" (or "text" for a plain-text line)'];
    if (!Array.isArray(messages)) return [`"messages" must be an array, got ${describe(messages)}`];
    if (messages.length === 0) return ['"messages" is empty'];

    const problems: string[] = [];
    const roles: Role[] = [];
    messages.forEach((m: unknown, i) => {
      if (typeof m !== 'object' || m === null || Array.isArray(m)) {
        problems.push(`messages[${i}] must be an object, got ${describe(m)}`);
        return;
      }
      const { role, content } = m as Record<string, unknown>;
      if (!isRole(role)) problems.push(`messages[${i}].role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role) ?? 'nothing'}`);
      else roles.push(role);
      if (typeof content !== 'string') problems.push(`messages[${i}].content must be a string, got ${content === undefined ? 'nothing' : describe(content)}`);
    });
    // Only judged on otherwise sound conversations: a missing assistant is noise next to broken roles.
    if (problems.length === 0 && !roles.includes('assistant')) problems.push('conversation has no "assistant" message to learn from');
    if (problems.length > 0) {
      const more = problems.length - MAX_PROBLEMS_PER_LINE;
      return more > 0 ? [...problems.slice(0, MAX_PROBLEMS_PER_LINE), `and ${more} more`] : problems;
    }

    conversations++;
    messageCount += roles.length;
    for (const r of roles) roleCounts[r]++;
    return [];
  });

  // Only when nothing else is wrong: an all-blank file must not pass as a valid empty dataset.
  if (conversations + texts === 0 && issues.errorCount === 0 && files[0]) {
    issues.add({ file_id: files[0].id, message: 'no conversations found' });
  }
  return issues.result({
    example_count: conversations + texts,
    conversation_count: conversations,
    text_count: texts,
    message_count: messageCount,
    role_counts: roleCounts,
    avg_messages_per_conversation: conversations === 0 ? 0 : round2(messageCount / conversations),
  });
}
