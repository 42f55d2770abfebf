import { fmtNumber } from '../../lib/format';

/** A classification report's confusion matrix, rows the true class and columns the predicted one. */
export function ConfusionMatrix({ title, labels, matrix }: { title: string; labels: string[]; matrix: number[][] }) {
  return (
    <div className="table-wrap">
      <table className="confusion">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">True \ predicted</th>
            {labels.map((l) => (
              <th key={l} scope="col" className="num">
                {l}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {matrix.map((row, i) => (
            <tr key={labels[i] ?? i}>
              <th scope="row">{labels[i] ?? i}</th>
              {row.map((v, j) => (
                <td key={j} className={`num${i === j ? ' diag' : ''}`}>
                  {v}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const isMatrix = (m: unknown): m is number[][] => Array.isArray(m) && m.every((r) => Array.isArray(r) && r.every((v) => typeof v === 'number'));
const isLabels = (l: unknown): l is string[] => Array.isArray(l) && l.every((x) => typeof x === 'string' || typeof x === 'number');

/** A result's figures: its metrics as a table, and the confusion matrices its details carry (validation, test). */
export function ResultView({ result }: { result: Record<string, unknown> }) {
  const metrics = (result.metrics ?? {}) as Record<string, unknown>;
  const details = (result.details ?? {}) as Record<string, unknown>;
  const labels = isLabels(details.labels) ? details.labels.map(String) : isLabels(details.classes) ? details.classes.map(String) : null;
  const test = (details.test ?? null) as Record<string, unknown> | null;
  const names = Object.keys(metrics).sort();
  return (
    <>
      {names.length > 0 && (
        <div className="table-wrap">
          <table className="result-metrics">
            <caption className="visually-hidden">Result metrics</caption>
            <thead>
              <tr>
                <th scope="col">Metric</th>
                <th scope="col" className="num">
                  Value
                </th>
              </tr>
            </thead>
            <tbody>
              {names.map((n) => (
                <tr key={n} data-metric={n}>
                  <th scope="row">{n}</th>
                  <td className="num">{fmtNumber(metrics[n])}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {labels && isMatrix(details.confusion_matrix) && (
        <ConfusionMatrix title="Confusion matrix (validation)" labels={labels} matrix={details.confusion_matrix} />
      )}
      {test && isMatrix(test.confusion_matrix) && (
        <ConfusionMatrix
          title="Confusion matrix (test set)"
          labels={isLabels(test.labels) ? test.labels.map(String) : (labels ?? [])}
          matrix={test.confusion_matrix}
        />
      )}
    </>
  );
}
