import type { Http, Query } from './http.js';

/** One page of a cursor-paginated list, as the API answers it. */
export interface Page<T> {
  data?: T[];
  next_cursor?: string | null;
}

/**
 * A list that fetches its pages as it is read:
 * `for await (const job of client.jobs.list())` walks every item, one request per page;
 * `.pages()` gives the pages themselves; `.all()` collects everything (mind a long list).
 */
export class Paginated<T> implements AsyncIterable<T> {
  constructor(private readonly fetchPage: (cursor: string | undefined) => Promise<Page<T>>) {}

  async *pages(): AsyncGenerator<Page<T>> {
    let cursor: string | undefined;
    do {
      const page = await this.fetchPage(cursor);
      yield page;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for await (const page of this.pages()) yield* page.data ?? [];
  }

  async all(): Promise<T[]> {
    const out: T[] = [];
    for await (const item of this) out.push(item);
    return out;
  }
}

/** A cursor-paginated GET: `limit` is the page size, the other query fields filter. */
export function cursorList<T>(http: Http, path: string, query: Query = {}): Paginated<T> {
  return new Paginated<T>((cursor) => http.get<Page<T>>(path, { ...query, cursor }));
}

/** GET /v1/models pages by number (`page`, `has_more`), not by cursor: the same iterator over it. */
export function numberedList<T>(http: Http, path: string, query: Query = {}): Paginated<T> {
  return new Paginated<T>(async (cursor) => {
    const page = cursor === undefined ? 1 : Number(cursor);
    const body = await http.get<{ data?: T[]; has_more?: boolean }>(path, { ...query, page });
    return { data: body.data ?? [], next_cursor: body.has_more ? String(page + 1) : null };
  });
}
