import { TrainyardError } from './errors.js';
import { sha256Hex } from './files.js';
import { seg, type Http } from './http.js';
import { numberedList, type Paginated } from './pages.js';
import type { ArtifactLink, Model, ModelsFilter, ModelVersion, PredictRequest, Prediction } from './types.js';

/** A version number, or an alias such as `latest` or `best`. */
export type VersionRef = number | string;

export class Models {
  constructor(private readonly http: Http) {}

  /** Your models and public ones (`limit` is the page size). */
  list(filter: ModelsFilter = {}): Paginated<Model> {
    return numberedList<Model>(this.http, '/v1/models', filter);
  }

  get(name: string): Promise<Model> {
    return this.http.get<Model>(`/v1/models/${seg(name)}`);
  }

  /** Every version, newest first (the highest number), with its metrics and artifacts. */
  async versions(name: string): Promise<ModelVersion[]> {
    return (await this.http.get<{ data?: ModelVersion[] }>(`/v1/models/${seg(name)}/versions`)).data ?? [];
  }

  version(name: string, v: VersionRef): Promise<ModelVersion> {
    return this.http.get<ModelVersion>(`/v1/models/${seg(name)}/versions/${seg(v)}`);
  }

  /** Predictions for `instances` (by default from the `latest` version). */
  predict(name: string, body: PredictRequest): Promise<Prediction> {
    return this.http.post<Prediction>(`/v1/models/${seg(name)}/predict`, body, { idempotent: true });
  }

  /** A signed, expiring link to one artifact (`model`, `model_card`, …), with its size and sha256. */
  artifact(name: string, v: VersionRef, artifact: string): Promise<ArtifactLink> {
    return this.http.get<ArtifactLink>(`/v1/models/${seg(name)}/versions/${seg(v)}/artifacts/${seg(artifact)}`);
  }

  /** Downloads an artifact's bytes and checks them against its recorded sha256. */
  async download(name: string, v: VersionRef, artifact: string, o: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const link = await this.artifact(name, v, artifact);
    if (!link.url) throw new TrainyardError(0, 'ARTIFACT_URL_MISSING', `no download URL for ${name}/${v}/${artifact}`);
    const res = await this.http.request('GET', link.url, { auth: false, signal: o.signal });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (link.sha256) {
      const hex = await sha256Hex(bytes);
      if (hex !== link.sha256) throw new TrainyardError(0, 'ARTIFACT_CORRUPT', `${name}/${v}/${artifact}: sha256 ${hex}, expected ${link.sha256}`);
    }
    return bytes;
  }
}
