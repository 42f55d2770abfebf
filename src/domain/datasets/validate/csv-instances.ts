/**
 * tabular-csv instances (issue #18): each distinct value of `instance_column` is one recording
 * with one label, its rows put in order by `order_column`. Checked while the rows stream past;
 * memory is one small entry per instance, never per row.
 */
import { NUMBER, isDatetime } from './csv-cells.js';
import type { DatasetFileInput, DatasetOptions, IssueList } from './types.js';

interface Instance {
  length: number;
  /** The first non-empty label seen for it, and where: a later different one is the error. */
  label?: string;
  at?: { file: DatasetFileInput; line: number };
  /** Reported once per instance: a recording labelled "a" then "b" on 10,000 rows is one mistake. */
  mixed: boolean;
}

type OrderKind = 'number' | 'datetime';

const quoted = (v: string): string => JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);

export class InstanceTracker {
  private instanceIndex = -1;
  private orderIndex = -1;
  private labelIndex = -1;
  private readonly instances = new Map<string, Instance>();
  private orderKind?: { kind: OrderKind; file: DatasetFileInput; line: number };

  constructor(
    private readonly options: DatasetOptions,
    private readonly issues: IssueList,
  ) {}

  /** Whether there is anything to track; without either option the validator is unchanged. */
  get active(): boolean {
    return this.options.instance_column !== undefined || this.options.order_column !== undefined;
  }

  /** Resolves the columns against the (first file's) header; a missing one is reported once, here. */
  setHeader(file: DatasetFileInput, names: readonly string[]): void {
    const { instance_column: instance, order_column: order, label_column: label } = this.options;
    const find = (option: string, name: string | undefined): number => {
      if (name === undefined) return -1;
      const i = names.indexOf(name);
      if (i < 0) this.issues.add({ file_id: file.id, message: `${option} "${name}" not found in the header; available columns: ${names.join(', ')}` });
      return i;
    };
    this.instanceIndex = find('instance_column', instance);
    this.orderIndex = find('order_column', order);
    this.labelIndex = label === undefined ? -1 : names.indexOf(label);
    const same = (a: string, b: string, name: string): void =>
      this.issues.add({ file_id: file.id, message: `${a} and ${b} must be different columns (both are "${name}")` });
    if (instance !== undefined && instance === label) same('instance_column', 'label_column', instance);
    if (order !== undefined && order === label) same('order_column', 'label_column', order);
    if (order !== undefined && order === instance) same('order_column', 'instance_column', order);
  }

  observe(file: DatasetFileInput, line: number, record: readonly string[]): void {
    if (this.orderIndex >= 0) this.checkOrder(file, line, record[this.orderIndex]!.trim());
    if (this.instanceIndex < 0) return;
    const id = record[this.instanceIndex]!.trim();
    if (id === '') {
      this.issues.atLine(
        file.id,
        line,
        `empty value in instance_column "${this.options.instance_column}": every row must name the instance (recording) it belongs to`,
      );
      return;
    }
    let inst = this.instances.get(id);
    if (inst === undefined) this.instances.set(id, (inst = { length: 0, mixed: false }));
    inst.length++;
    // An empty label cell is an unlabelled row, skipped by the trainers as before: it breaks no constancy.
    const label = this.labelIndex >= 0 ? record[this.labelIndex]!.trim() : '';
    if (label === '') return;
    if (inst.label === undefined) {
      inst.label = label;
      inst.at = { file, line };
    } else if (inst.label !== label && !inst.mixed) {
      inst.mixed = true;
      const first = inst.at!.file === file ? `line ${inst.at!.line}` : `line ${inst.at!.line} of ${inst.at!.file.filename}`;
      this.issues.atLine(
        file.id,
        line,
        `label changes within instance ${quoted(id)}: ${quoted(label)} here, ${quoted(inst.label)} from ${first}; an instance (recording) has one label`,
      );
    }
  }

  /** Numbers or datetimes, not a mix: the trainer sorts by them, and "3" vs "2024-01-01" has no order. */
  private checkOrder(file: DatasetFileInput, line: number, v: string): void {
    const column = `order_column "${this.options.order_column}"`;
    if (v === '') {
      this.issues.atLine(file.id, line, `empty value in ${column}: every row needs its position in time`);
      return;
    }
    const kind: OrderKind | undefined = NUMBER.test(v) ? 'number' : isDatetime(v) ? 'datetime' : undefined;
    if (kind === undefined) {
      this.issues.atLine(file.id, line, `${column} value ${quoted(v)} is neither a number nor a datetime (YYYY-MM-DD[THH:MM[:SS][zone]])`);
      return;
    }
    if (this.orderKind === undefined) this.orderKind = { kind, file, line };
    else if (this.orderKind.kind !== kind) {
      const first = this.orderKind.file === file ? `line ${this.orderKind.line}` : `line ${this.orderKind.line} of ${this.orderKind.file.filename}`;
      this.issues.atLine(file.id, line, `${column} mixes ${kind}s with ${this.orderKind.kind}s (${this.orderKind.kind}s since ${first}); use one kind`);
    }
  }

  /** `instances` for the dataset's stats; null without instance_column (or when it was not found). */
  stats(): Record<string, unknown> | null {
    if (this.instanceIndex < 0) return null;
    const lengths = [...this.instances.values()].map((i) => i.length).sort((a, b) => a - b);
    const n = lengths.length;
    const median = n === 0 ? 0 : n % 2 === 1 ? lengths[(n - 1) / 2]! : (lengths[n / 2 - 1]! + lengths[n / 2]!) / 2;
    const out: Record<string, unknown> = { count: n, min_length: lengths[0] ?? 0, median_length: median, max_length: lengths[n - 1] ?? 0 };
    if (this.labelIndex >= 0) {
      // Class balance in recordings, which is what a per-recording accuracy is measured over.
      const perClass: Record<string, number> = {};
      let unlabelled = 0;
      for (const inst of this.instances.values()) {
        if (inst.label === undefined) unlabelled++;
        else perClass[inst.label] = (perClass[inst.label] ?? 0) + 1;
      }
      out.per_class = perClass;
      if (unlabelled > 0) out.unlabelled = unlabelled;
    }
    return out;
  }
}
