import { ApiKeys, Credits } from './account.js';
import { BaseModels, Trainers } from './catalog.js';
import { Datasets } from './datasets.js';
import { Files } from './files.js';
import { Http, type ClientOptions } from './http.js';
import { Jobs } from './jobs.js';
import { Models } from './models.js';
import type { Me } from './types.js';

/**
 * The Trainyard API from TypeScript:
 *
 * ```ts
 * const ty = new Trainyard({ url: 'http://127.0.0.1:8080', apiKey: process.env.TRAINYARD_API_KEY });
 * const job = await ty.jobs.create({ trainer: 'linear-classifier', dataset_id, output: { model_name: 'eeg' } });
 * for await (const e of ty.jobs.events(job.id!)) console.log(e.type, e.data);
 * ```
 */
export class Trainyard {
  readonly http: Http;
  readonly files: Files;
  readonly datasets: Datasets;
  readonly trainers: Trainers;
  readonly baseModels: BaseModels;
  readonly jobs: Jobs;
  readonly models: Models;
  readonly credits: Credits;
  readonly apiKeys: ApiKeys;

  constructor(options: ClientOptions) {
    this.http = new Http(options);
    this.files = new Files(this.http);
    this.datasets = new Datasets(this.http);
    this.trainers = new Trainers(this.http);
    this.baseModels = new BaseModels(this.http);
    this.jobs = new Jobs(this.http);
    this.models = new Models(this.http);
    this.credits = new Credits(this.http);
    this.apiKeys = new ApiKeys(this.http);
  }

  /** Logs in with a username and password and returns a client holding the token. */
  static async login(options: Omit<ClientOptions, 'apiKey' | 'token'> & { username: string; password: string }): Promise<Trainyard> {
    const { username, password, ...rest } = options;
    const anonymous = new Http(rest);
    const { access_token } = await anonymous.post<{ access_token: string }>('/v1/auth/login', { username, password });
    return new Trainyard({ ...rest, token: access_token });
  }

  /** The caller: id, username, role. */
  me(): Promise<Me> {
    return this.http.get<Me>('/v1/me');
  }
}
