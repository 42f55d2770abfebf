import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { ApiError, api, must } from '../api/client';
import type { FileInfo } from '../api/types';
import { DatasetBadge } from '../components/datasets/DatasetBadge';
import { DatasetStats, FileTable, ValidationErrors } from '../components/datasets/DatasetViews';
import { readIssues, statusLabel } from '../components/datasets/model';
import { Thumbnails } from '../components/datasets/Thumbnails';
import { Page } from '../components/Page';
import { Confirm, ErrorNote, Loading, ProgressBar } from '../components/ui';
import { fmtBytes, fmtDate, fmtNumber } from '../lib/format';
import { useAsync, useInterval } from '../lib/use-async';
import '../styles/datasets.css';

/** How many of a dataset's files the page describes by name. */
const SHOWN_FILES = 20;

export default function DatasetDetail({ id }: { id: string }) {
  const [, navigate] = useLocation();
  const ds = useAsync(() => must(api.GET('/v1/datasets/{id}', { params: { path: { id } } })), [id]);
  const d = ds.data;
  const validating = d?.status === 'processing';
  // Validation runs in the background: look again every second until it ends, then stop.
  // A failed look (a blip of the network) is shown and retried; a dataset that is gone is not.
  const gone = ds.error instanceof ApiError && (ds.error.status === 404 || ds.error.status === 401);
  useInterval(ds.reload, 1000, validating && !gone);

  // File names for the file list and for the problems (which name files by id).
  const wanted = useMemo(() => {
    if (!d) return [];
    const ids = (d.file_ids ?? []).slice(0, SHOWN_FILES);
    for (const i of readIssues(d.errors)) if (i.file_id && !ids.includes(i.file_id)) ids.push(i.file_id);
    return ids;
  }, [d]);
  const [files, setFiles] = useState(new Map<string, FileInfo>());
  // Each file is asked for once; a failed lookup (a deleted file, a blip) is asked again only when
  // the dataset itself changes. Asking again whenever `files` changed looped without end: a
  // lookup that failed changed it too, and the page sent some 40 requests a second.
  const asked = useRef(new Set<string>());
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  useEffect(() => {
    const missing = wanted.filter((f) => !asked.current.has(f));
    if (missing.length === 0) return;
    for (const f of missing) asked.current.add(f);
    void Promise.all(missing.map((fid) => must(api.GET('/v1/files/{id}', { params: { path: { id: fid } } })).catch(() => null))).then((got) => {
      const found = got.filter((f): f is FileInfo => !!f?.id);
      for (const [i, f] of got.entries()) if (!f?.id) asked.current.delete(missing[i]!);
      if (!mounted.current || found.length === 0) return;
      setFiles((m) => {
        const next = new Map(m);
        for (const f of found) next.set(f.id!, f);
        return next;
      });
    });
  }, [wanted]);

  const [confirm, setConfirm] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>();
  const remove = async () => {
    setConfirm(false);
    setDeleting(true);
    setDeleteError(undefined);
    try {
      await must(api.DELETE('/v1/datasets/{id}', { params: { path: { id } } }));
      navigate('/datasets', { replace: true });
    } catch (err) {
      setDeleteError(err);
      setDeleting(false);
    }
  };

  if (!d) {
    return (
      <Page title="Dataset">
        {ds.error ? (
          <>
            <ErrorNote error={ds.error} />
            <p>
              <Link href="/datasets">All datasets</Link>
            </p>
          </>
        ) : (
          <Loading what="Loading the dataset" />
        )}
      </Page>
    );
  }

  const train = `/jobs/new?dataset=${encodeURIComponent(d.id!)}`;
  return (
    <Page
      title={d.name ?? id}
      actions={
        <>
          {d.status === 'ready' && (
            <Link href={train} className="button primary">
              Train on this dataset
            </Link>
          )}
          <button type="button" className="danger" onClick={() => setConfirm(true)} disabled={deleting}>
            {deleting ? 'Deleting…' : 'Delete'}
          </button>
        </>
      }
    >
      <p className="muted">
        <Link href="/datasets">Datasets</Link> / <code>{d.id}</code>
      </p>
      <div className="ds-status" role="status" aria-live="polite">
        <span className="visually-hidden">Status: </span>
        <DatasetBadge status={d.status} />{' '}
        {validating
          ? 'Checking the files… this page updates by itself.'
          : d.status === 'ready'
            ? 'Ready to train on.'
            : `Not usable: ${fmtNumber(d.error_count)} problem${d.error_count === 1 ? '' : 's'} found.`}
      </div>
      {validating && <ProgressBar value={null} label="Validation" detail="validating" />}
      <ErrorNote error={ds.error} title="Could not refresh" />
      <ErrorNote error={deleteError} title="The dataset was not deleted" />

      {d.description && <p>{d.description}</p>}
      <dl className="facts">
        <dt>Kind</dt>
        <dd>
          <code>{d.kind}</code>
        </dd>
        <dt>Status</dt>
        <dd>{statusLabel(d.status)}</dd>
        <dt>Files</dt>
        <dd>
          {fmtNumber(d.file_count)} ({fmtBytes(d.total_bytes)})
        </dd>
        {Object.entries(d.options ?? {}).map(([k, v]) => (
          <Option key={k} k={k} v={v} />
        ))}
        <dt>Created</dt>
        <dd>{fmtDate(d.created_at)}</dd>
        {!validating && (
          <>
            <dt>Checked</dt>
            <dd>{fmtDate(d.updated_at)}</dd>
          </>
        )}
      </dl>

      <ValidationErrors dataset={d} files={files} />
      <DatasetStats dataset={d} />

      <section aria-labelledby="files-title">
        <h2 id="files-title">Files</h2>
        {d.kind === 'image-set' && <Thumbnails ids={d.file_ids ?? []} files={files} />}
        <FileTable ids={(d.file_ids ?? []).slice(0, SHOWN_FILES)} files={files} total={d.file_count ?? 0} />
      </section>

      {d.status === 'ready' && (
        <p>
          <Link href={train}>Train a model on {d.name}</Link>
        </p>
      )}

      <Confirm
        open={confirm}
        title={`Delete ${d.name}?`}
        confirmLabel="Delete dataset"
        danger
        onConfirm={() => void remove()}
        onClose={() => setConfirm(false)}
      >
        <p>The dataset goes; its uploaded files stay. A dataset that a queued or running job uses cannot be deleted.</p>
      </Confirm>
    </Page>
  );
}

function Option({ k, v }: { k: string; v: unknown }) {
  const label = k.replace(/_/g, ' ');
  return (
    <>
      <dt>{label[0]!.toUpperCase() + label.slice(1)}</dt>
      <dd>
        <code>{typeof v === 'string' ? v : JSON.stringify(v)}</code>
      </dd>
    </>
  );
}
