import { useCallback, useEffect, useRef, useState } from 'react';
import { api, must } from '../../api/client';
import type { JobEvent } from '../../api/types';
import { followJob, type LiveState } from '../../lib/live';
import { mergeLines, toLogLine, type LogLine } from './LogTail';
import { toReport, type MetricReport } from './metrics';

export interface LiveProgress {
  step: number;
  total_steps: number;
  epoch?: number;
  total_epochs?: number;
}

export interface Checkpoint {
  seq: number;
  step: number;
  at: string;
}

/** How often the job itself is read again while it runs (ETA, queue position), at most. */
export const REFRESH_MS = 3000;

/**
 * A job's events as page state: metric reports, live progress, log lines, checkpoints and the
 * stream's own state, plus ticks that tell the samples and the credit entries to be read again.
 * `reload` reads the job again; `refresh` is that, remembered, so progress events ask for it at
 * most every REFRESH_MS.
 */
export function useJobStream(id: string, reload: () => void) {
  const [reports, setReports] = useState<MetricReport[]>([]);
  const [live, setLive] = useState<LiveProgress | null>(null);
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [checkpoints, setCheckpoints] = useState<Checkpoint[]>([]);
  const [state, setState] = useState<{ s: LiveState; detail?: string }>({ s: 'connecting' });
  const [samplesTick, setSamplesTick] = useState(0);
  const [ledgerTick, setLedgerTick] = useState(0);
  const lastRefresh = useRef(0);

  const refresh = useCallback(() => {
    lastRefresh.current = Date.now();
    reload();
  }, [reload]);

  // The first log lines at once (the stream replays them too: merged by event number).
  useEffect(() => {
    let on = true;
    must(api.GET('/v1/jobs/{id}/logs', { params: { path: { id }, query: { tail: 200 } } })).then(
      (r) => {
        if (!on) return;
        const lines = (r.data ?? []).flatMap((d) => {
          const l = typeof d.seq === 'number' ? toLogLine(d.seq, d) : null;
          return l ? [l] : [];
        });
        setLogs((old) => mergeLines(old, lines));
      },
      () => {},
    );
    return () => {
      on = false;
    };
  }, [id]);

  // Every event from the first: charts, progress, log, checkpoints; resumes by itself after a drop.
  useEffect(() => {
    const onEvents = (events: JobEvent[]) => {
      const newReports: MetricReport[] = [];
      const newLines: LogLine[] = [];
      const newCheckpoints: Checkpoint[] = [];
      let progress: LiveProgress | null = null;
      let statusChanged = false;
      let sampled = false;
      for (const e of events) {
        const d = e.data;
        if (e.type === 'metrics') {
          const r = toReport(e.seq, d);
          if (r) newReports.push(r);
        } else if (e.type === 'progress' && typeof d.step === 'number' && typeof d.total_steps === 'number') {
          progress = {
            step: d.step,
            total_steps: d.total_steps,
            ...(typeof d.epoch === 'number' ? { epoch: d.epoch } : {}),
            ...(typeof d.total_epochs === 'number' ? { total_epochs: d.total_epochs } : {}),
          };
        } else if (e.type === 'log') {
          const l = toLogLine(e.seq, d, e.created_at);
          if (l) newLines.push(l);
        } else if (e.type === 'checkpoint' && typeof d.step === 'number') {
          newCheckpoints.push({ seq: e.seq, step: d.step, at: e.created_at });
        } else if (e.type === 'sample') sampled = true;
        else if (e.type === 'status' || e.type === 'result') statusChanged = true;
      }
      if (newReports.length) setReports((old) => [...old, ...newReports.filter((r) => !old.some((o) => o.seq === r.seq))]);
      if (newLines.length) setLogs((old) => mergeLines(old, newLines));
      if (newCheckpoints.length) setCheckpoints((old) => [...old, ...newCheckpoints.filter((c) => !old.some((o) => o.seq === c.seq))]);
      if (progress) setLive(progress);
      if (sampled) setSamplesTick((t) => t + 1);
      if (statusChanged) {
        setLedgerTick((t) => t + 1);
        refresh();
      } else if (progress && Date.now() - lastRefresh.current > REFRESH_MS) refresh();
    };
    return followJob(id, { after: 0, onEvents, onState: (s, detail) => setState({ s, ...(detail ? { detail } : {}) }) });
  }, [id, refresh]);

  const bumpLedger = useCallback(() => setLedgerTick((t) => t + 1), []);
  return { reports, live, logs, checkpoints, state, samplesTick, ledgerTick, bumpLedger, refresh };
}
