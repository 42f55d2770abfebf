import type { Dataset, FileInfo } from '../../api/types';
import { fmtBytes, fmtNumber } from '../../lib/format';
import { BarChart } from '../ui';
import { humanKey, readIssues, readStats } from './model';

/** Validation problems by file and line, as the API lists them (the first ones; the count says how many in all). */
export function ValidationErrors({ dataset, files }: { dataset: Dataset; files: Map<string, FileInfo> }) {
  const issues = readIssues(dataset.errors);
  if (issues.length === 0) return null;
  const total = dataset.error_count ?? issues.length;
  const hasEntries = issues.some((i) => i.entry !== undefined);
  return (
    <section aria-labelledby="problems-title" className="problems">
      <h2 id="problems-title">Problems found</h2>
      <p>
        {total === issues.length
          ? `${total} problem${total === 1 ? '' : 's'} to fix before this dataset can be used. Fix the files, upload them again and create a new dataset.`
          : `${fmtNumber(total)} problems in all; the first ${issues.length} are listed. Fix the files, upload them again and create a new dataset.`}
      </p>
      <div className="table-wrap">
        <table className="problems-table">
          <caption className="visually-hidden">Validation problems by file and line</caption>
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col" className="num">
                Line
              </th>
              {hasEntries && <th scope="col">Entry</th>}
              <th scope="col">Problem</th>
            </tr>
          </thead>
          <tbody>
            {issues.map((i, n) => {
              const f = files.get(i.file_id);
              return (
                <tr key={n} data-testid="problem">
                  <td className="problem-file">{f?.filename ?? (i.file_id ? <code>{i.file_id}</code> : <span className="muted">the dataset</span>)}</td>
                  <td className="num problem-line">{i.line ?? '—'}</td>
                  {hasEntries && <td>{i.entry ? <code>{i.entry}</code> : '—'}</td>}
                  <td className="problem-message">
                    {i.message}
                    {i.code && (
                      <>
                        {' '}
                        <code className="muted">{i.code}</code>
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** What validation learnt of the data: size, columns and their types, class balance, instances, other figures. */
export function DatasetStats({ dataset }: { dataset: Dataset }) {
  if (!dataset.stats) return null;
  const s = readStats(dataset.stats);
  return (
    <section aria-labelledby="stats-title" className="ds-stats">
      <h2 id="stats-title">Contents</h2>
      <dl className="facts">
        {s.size && (
          <>
            <dt>{s.size.unit[0]!.toUpperCase() + s.size.unit.slice(1)}</dt>
            <dd data-testid="row-count">{fmtNumber(s.size.value)}</dd>
          </>
        )}
        {s.columns.length > 0 && (
          <>
            <dt>Columns</dt>
            <dd>{s.columns.length}</dd>
          </>
        )}
        {s.labelColumn && (
          <>
            <dt>Label column</dt>
            <dd>
              <code>{s.labelColumn}</code>
            </dd>
          </>
        )}
        {s.classes.length > 0 && (
          <>
            <dt>Classes</dt>
            <dd>{s.classes.length}</dd>
          </>
        )}
        {s.facts.map((f) => (
          <FactRow key={f.key} k={f.key} v={f.value} />
        ))}
      </dl>
      <div className="grid">
        {s.columns.length > 0 && (
          <div className="table-wrap">
            <table className="columns-table">
              <caption>Columns and their inferred types</caption>
              <thead>
                <tr>
                  <th scope="col">Column</th>
                  <th scope="col">Type</th>
                  <th scope="col" className="num">
                    Empty cells
                  </th>
                </tr>
              </thead>
              <tbody>
                {s.columns.map((c) => (
                  <tr key={c.name}>
                    <td>
                      <code>{c.name}</code>
                      {c.name === s.labelColumn && <span className="muted"> (label)</span>}
                    </td>
                    <td>{c.type}</td>
                    <td className="num">{c.missing === undefined ? '—' : fmtNumber(c.missing)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {s.classes.length > 0 && (
          <div data-testid="class-balance">
            <BarChart title={`Class balance${s.labelColumn ? ` (${s.labelColumn})` : ''}`} bars={s.classes} format={(v) => fmtNumber(v)} />
          </div>
        )}
      </div>
      {s.instances && (
        <div className="instances">
          <h3>Instances</h3>
          <dl className="facts">
            <dt>Instances</dt>
            <dd>{fmtNumber(s.instances.count)}</dd>
            <dt>Rows per instance</dt>
            <dd>
              {fmtNumber(s.instances.min_length)} to {fmtNumber(s.instances.max_length)} (median {fmtNumber(s.instances.median_length)})
            </dd>
            {s.instances.unlabelled !== undefined && (
              <>
                <dt>Without a label</dt>
                <dd>{fmtNumber(s.instances.unlabelled)}</dd>
              </>
            )}
          </dl>
          {s.instances.per_class.length > 0 && <BarChart title="Instances per class" bars={s.instances.per_class} format={(v) => fmtNumber(v)} />}
        </div>
      )}
      {s.maps.map((m) => (
        <BarChart key={m.key} title={humanKey(m.key)[0]!.toUpperCase() + humanKey(m.key).slice(1)} bars={m.bars} format={(v) => fmtNumber(v)} />
      ))}
    </section>
  );
}

function FactRow({ k, v }: { k: string; v: string }) {
  const label = humanKey(k);
  return (
    <>
      <dt>{label[0]!.toUpperCase() + label.slice(1)}</dt>
      <dd>{/^-?\d+(\.\d+)?$/.test(v) ? fmtNumber(Number(v)) : v}</dd>
    </>
  );
}

/** The dataset's files as GET /v1/files/{id} describes them (name, type, size): the first few. */
export function FileTable({ ids, files, total }: { ids: string[]; files: Map<string, FileInfo>; total: number }) {
  if (ids.length === 0) return null;
  return (
    <div className="table-wrap">
      <table className="files-table">
        <caption className="visually-hidden">Files of this dataset</caption>
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col">Type</th>
            <th scope="col" className="num">
              Size
            </th>
          </tr>
        </thead>
        <tbody>
          {ids.map((id) => {
            const f = files.get(id);
            return (
              <tr key={id}>
                <td>{f ? f.filename : <code>{id}</code>}</td>
                <td>{f?.content_type ?? '—'}</td>
                <td className="num">{f ? fmtBytes(f.bytes) : '—'}</td>
              </tr>
            );
          })}
        </tbody>
        {total > ids.length && (
          <tfoot>
            <tr>
              <td colSpan={3} className="muted">
                and {fmtNumber(total - ids.length)} more
              </td>
            </tr>
          </tfoot>
        )}
      </table>
    </div>
  );
}
