import { useMemo } from 'react';
import { LineChart } from '../LineChart';
import { isAccuracy, isLoss, seriesOf, xAxis, type MetricReport } from './metrics';

/** Loss and accuracy charts from the job's metric reports (per epoch when it reports epochs). */
export function JobCharts({ reports, active }: { reports: MetricReport[]; active: boolean }) {
  const x = xAxis(reports);
  const lossSeries = useMemo(() => seriesOf(reports, isLoss, x), [reports, x]);
  const accSeries = useMemo(() => seriesOf(reports, isAccuracy, x), [reports, x]);
  return (
    <section aria-labelledby="charts-h">
      <h2 id="charts-h">Metrics</h2>
      {reports.length === 0 ? (
        <p className="muted">{active ? 'No metrics reported yet.' : 'This job reported no metrics.'}</p>
      ) : (
        <div className="grid">
          {lossSeries.length > 0 && <LineChart title="Loss" xLabel={x} series={lossSeries} />}
          {accSeries.length > 0 && <LineChart title="Accuracy" xLabel={x} series={accSeries} />}
        </div>
      )}
    </section>
  );
}
