import type { Paged } from './paged';

/** "Load more" under a paged table, and a live count of what is shown. */
/** `what`: the noun, singular and plural, e.g. ['job', 'jobs']. */
export function LoadMore<T>({ list, what }: { list: Paged<T>; what: readonly [string, string] }) {
  return (
    <div className="row load-more">
      <span className="muted" role="status">
        {list.loading ? 'Loading…' : `${list.items.length} ${what[list.items.length === 1 ? 0 : 1]}${list.hasMore ? ' shown' : ''}`}
      </span>
      {list.hasMore && (
        <button type="button" onClick={list.more} disabled={list.loading}>
          Load more
        </button>
      )}
    </div>
  );
}
