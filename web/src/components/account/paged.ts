import { useCallback, useEffect, useRef, useState } from 'react';

export interface PageOf<T> {
  data?: T[];
  next_cursor?: string | null;
}

export interface Paged<T> {
  items: T[];
  error: unknown;
  loading: boolean;
  /** There is a next page (the API gave a next_cursor). */
  hasMore: boolean;
  /** Fetches the next page and appends it. */
  more: () => void;
  /** Starts again from the first page (after a filter change or a mutation). */
  reload: () => void;
  /** Replaces one item in place (the API answered the changed item). */
  replace: (match: (t: T) => boolean, next: T) => void;
}

/**
 * A cursor-paginated list (data + next_cursor) that grows with "Load more". A late answer for
 * old deps is dropped, so changing a filter never mixes two lists.
 */
export function usePaged<T>(fetchPage: (cursor: string | undefined) => Promise<PageOf<T>>, deps: readonly unknown[]): Paged<T> {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const gen = useRef(0);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;

  const load = useCallback((after: string | undefined, append: boolean) => {
    const mine = ++gen.current;
    setLoading(true);
    fetchRef.current(after).then(
      (p) => {
        if (gen.current !== mine) return;
        setItems((old) => (append ? [...old, ...(p.data ?? [])] : (p.data ?? [])));
        setCursor(p.next_cursor ?? null);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (gen.current !== mine) return;
        setError(e);
        setLoading(false);
      },
    );
  }, []);

  useEffect(() => load(undefined, false), [...deps, tick]);

  return {
    items,
    error,
    loading,
    hasMore: cursor !== null,
    more: () => cursor !== null && load(cursor, true),
    reload: () => setTick((t) => t + 1),
    replace: (match, next) => setItems((old) => old.map((t) => (match(t) ? next : t))),
  };
}
