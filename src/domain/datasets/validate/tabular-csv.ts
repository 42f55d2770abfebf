import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import { BOOLEAN, INTEGER, NUMBER, isDatetime } from './csv-cells.js';
import { InstanceTracker } from './csv-instances.js';
import { BadTextError, TextGuard } from './text-guard.js';
import { ClassCounter, IssueList } from './types.js';
import type { DatasetFileInput, DatasetOptions, ValidationLimits, ValidationResult } from './types.js';

export type ColumnType = 'integer' | 'number' | 'boolean' | 'datetime' | 'string';

/** Sniffing calls a CSV with irregular commas in its first lines plain text; it may still parse. */
const CSV_TYPES = new Set(['text/csv', 'text/plain']);

/**
 * A column keeps the most specific type every non-empty cell fits. Each flag only ever goes
 * from true to false, so a column costs O(1) memory however many rows stream past.
 */
class ColumnStats {
  missing = 0;
  filled = 0;
  private integer = true;
  private number = true;
  private boolean = true;
  private datetime = true;

  observe(raw: string): void {
    const v = raw.trim();
    if (v === '') {
      this.missing++;
      return;
    }
    this.filled++;
    if (this.integer && !INTEGER.test(v)) this.integer = false;
    if (this.number && !NUMBER.test(v)) this.number = false;
    if (this.boolean && !BOOLEAN.test(v)) this.boolean = false;
    if (this.datetime && !isDatetime(v)) this.datetime = false;
  }

  get type(): ColumnType {
    if (this.filled === 0) return 'string';
    if (this.integer) return 'integer';
    if (this.number) return 'number';
    if (this.boolean) return 'boolean';
    if (this.datetime) return 'datetime';
    return 'string';
  }
}

/**
 * Physical lines a record spans beyond its first. csv-parse's own `info.lines` counts a CRLF
 * inside a quoted field as two lines, which shifts every later line number in such files, so
 * lines are counted here from the fields (only quoted fields can hold line breaks).
 */
function extraLines(record: readonly string[]): number {
  let n = 0;
  for (const field of record) {
    if (field.includes('\n') || field.includes('\r')) n += field.match(/\r\n|\r|\n/g)?.length ?? 0;
  }
  return n;
}

/** Thrown from inside the parser to end a file early; not an error of the content. */
const STOP = new Error('stop reading this file');

const isBlankLine = (record: readonly string[]): boolean => record.length === 1 && record[0] === '';

/** csv-parse messages end in its own (sometimes wrong, see above) line number; ours lead with the right one. */
function describeCsvError(err: CsvError, maxLineBytes: number): string {
  switch (err.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'unclosed quote: the quoted field runs to the end of the file';
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'unexpected character after a closing quote (a quote inside a quoted field must be doubled: "")';
    case 'INVALID_OPENING_QUOTE':
      return 'quote inside an unquoted field (quote the whole field and double the inner quote)';
    case 'CSV_MAX_RECORD_SIZE':
      return `record is longer than ${maxLineBytes} bytes`;
    default:
      return err.message;
  }
}

export async function validateTabularCsv(files: readonly DatasetFileInput[], options: DatasetOptions, limits: ValidationLimits): Promise<ValidationResult> {
  const issues = new IssueList(limits.maxErrors);
  let header: string[] | undefined;
  let columns: ColumnStats[] = [];
  let labelIndex = -1;
  const classes = new ClassCounter();
  const instances = new InstanceTracker(options, issues);
  let rowCount = 0; // well-formed data rows, the ones in the stats
  let records = 0; // every data record, what the row limit guards
  let stopped = false;

  const setHeader = (file: DatasetFileInput, line: number, names: string[]): void => {
    header = names;
    columns = names.map(() => new ColumnStats());
    const seen = new Set<string>();
    names.forEach((name, i) => {
      if (name.trim() === '') issues.atLine(file.id, line, `column ${i + 1} has an empty name`);
      else if (seen.has(name)) issues.atLine(file.id, line, `duplicate column name "${name}"`);
      seen.add(name);
    });
    if (options.label_column !== undefined) {
      labelIndex = names.indexOf(options.label_column);
      if (labelIndex < 0) issues.add({ file_id: file.id, message: `label column "${options.label_column}" not found; available columns: ${names.join(', ')}` });
    }
    if (instances.active) instances.setHeader(file, names);
  };

  for (const file of files) {
    if (stopped) break;
    if (!CSV_TYPES.has(file.contentType)) {
      issues.add({ file_id: file.id, message: `not a CSV file (content is ${file.contentType})` });
      continue;
    }
    let lastLine = 0;
    let sawHeader = false;
    let fileRecords = 0;

    // Runs synchronously inside the parser, record by record. Consuming records from the
    // stream instead would lose the ones still buffered when a later parse error destroys
    // it, and with them the line count that error's position is derived from.
    const onRecord = (record: string[]): null => {
      const line = lastLine + 1;
      lastLine = line + extraLines(record);
      if (isBlankLine(record)) return null;
      if (!sawHeader) {
        sawHeader = true;
        const expected = header;
        if (expected === undefined) {
          setHeader(file, line, record);
        } else if (record.length !== expected.length || record.some((name, i) => name !== expected[i])) {
          issues.atLine(file.id, line, `header differs from the first file's: expected ${expected.join(',')}, got ${record.join(',')}`);
          throw STOP; // its rows cannot be merged into columns they do not share
        }
        return null;
      }
      fileRecords++;
      if (++records > limits.maxRows) {
        issues.atLine(file.id, line, `more than ${limits.maxRows} rows in the dataset`);
        stopped = true;
        throw STOP;
      }
      if (record.length !== columns.length) {
        issues.atLine(file.id, line, `expected ${columns.length} fields, got ${record.length}`);
        return null;
      }
      rowCount++;
      record.forEach((value, i) => columns[i]!.observe(value));
      if (labelIndex >= 0) {
        const label = record[labelIndex]!.trim();
        if (label !== '' && !classes.add(label)) {
          issues.atLine(file.id, line, `more than ${classes.size} distinct values in label column "${options.label_column}"`);
        }
      }
      if (instances.active) instances.observe(file, line, record);
      return null; // nothing is pushed downstream: memory stays flat whatever the file size
    };

    const parser = parse({ bom: true, relax_column_count: true, max_record_size: limits.maxLineBytes, on_record: onRecord });
    try {
      await pipeline(await file.open(), new TextGuard(), parser, new Writable({ objectMode: true, write: (_chunk, _enc, done) => done() }));
    } catch (err) {
      if (err === STOP) continue;
      // csv-parse would decode bad bytes to U+FFFD and pass a NUL on; both end the file at their line.
      if (err instanceof BadTextError) {
        issues.atLine(file.id, err.line, err.problem);
        continue;
      }
      if (!(err instanceof CsvError)) throw err;
      // The failing record starts right after the last one parsed; point there, not at EOF.
      issues.atLine(file.id, lastLine + 1, describeCsvError(err, limits.maxLineBytes));
      continue;
    }
    if (!sawHeader) issues.add({ file_id: file.id, message: 'empty file: a header row is required' });
    else if (fileRecords === 0) issues.add({ file_id: file.id, message: 'no data rows, only a header' });
  }

  const stats: Record<string, unknown> = {
    row_count: rowCount,
    columns: (header ?? []).map((name, i) => ({ name, type: columns[i]!.type, missing: columns[i]!.missing })),
  };
  if (options.label_column !== undefined) {
    stats.label_column = options.label_column;
    if (labelIndex >= 0) {
      stats.class_counts = classes.toJSON();
      if (classes.size < 2 && files[0])
        issues.add({ file_id: files[0].id, message: `label column "${options.label_column}" needs at least 2 classes, found ${classes.size}` });
    }
  }
  if (options.instance_column !== undefined) stats.instance_column = options.instance_column;
  if (options.order_column !== undefined) stats.order_column = options.order_column;
  const perInstance = instances.stats();
  if (perInstance) stats.instances = perInstance;
  return issues.result(stats);
}
