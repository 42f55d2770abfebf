import { seg, type Http } from './http.js';
import type { BaseModel, Trainer } from './types.js';

/** What can be trained: trainers (hyperparameter JSON Schema, pricing, availability) and base models. */
export class Trainers {
  constructor(private readonly http: Http) {}

  async list(): Promise<Trainer[]> {
    return (await this.http.get<{ data?: Trainer[] }>('/v1/trainers')).data ?? [];
  }

  get(id: string): Promise<Trainer> {
    return this.http.get<Trainer>(`/v1/trainers/${seg(id)}`);
  }
}

export class BaseModels {
  constructor(private readonly http: Http) {}

  async list(o: { trainer?: string } = {}): Promise<BaseModel[]> {
    return (await this.http.get<{ data?: BaseModel[] }>('/v1/base-models', o)).data ?? [];
  }

  get(id: string): Promise<BaseModel> {
    return this.http.get<BaseModel>(`/v1/base-models/${seg(id)}`);
  }
}
