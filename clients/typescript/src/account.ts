import { seg, type Http } from './http.js';
import { cursorList, type Paginated } from './pages.js';
import type { ApiKey, ApiKeyInfo, Balance, Transaction, TransactionsFilter } from './types.js';

export class ApiKeys {
  constructor(private readonly http: Http) {}

  /** A new API key; its `secret` is shown this once. */
  create(name: string): Promise<ApiKey> {
    return this.http.post<ApiKey>('/v1/api-keys', { name });
  }

  async list(): Promise<ApiKeyInfo[]> {
    return (await this.http.get<{ data?: ApiKeyInfo[] }>('/v1/api-keys')).data ?? [];
  }

  async revoke(id: string): Promise<void> {
    await this.http.request('DELETE', `/v1/api-keys/${seg(id)}`);
  }
}

export class Credits {
  constructor(private readonly http: Http) {}

  /** Balance, credits held by running jobs, spent, granted and bought. */
  balance(): Promise<Balance> {
    return this.http.get<Balance>('/v1/credits/balance');
  }

  /** The ledger, newest first; each entry with its purpose and job. */
  transactions(filter: TransactionsFilter = {}): Paginated<Transaction> {
    return cursorList<Transaction>(this.http, '/v1/credits/transactions', filter);
  }
}
