import { ApiError } from '../../api/client';

/**
 * The fields a 400 names, as `path → message`: from `details` ([{path, message, property?}] of
 * request-schema and hyperparameter errors) and from a message that starts with a field path
 * ("output.model_name: …"). Paths lose their envelope prefix ("body."), so a form can look its
 * fields up by their own names ("name", "output.model_name", "hyperparameters.epochs").
 */
export function fieldErrors(err: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!(err instanceof ApiError)) return out;
  const norm = (p: string) => p.replace(/^body\.?/, '');
  if (Array.isArray(err.details)) {
    for (const d of err.details as unknown[]) {
      if (!d || typeof d !== 'object') continue;
      const { path, message, property } = d as { path?: unknown; message?: unknown; property?: unknown };
      if (typeof path !== 'string' || typeof message !== 'string') continue;
      let p = norm(path);
      // "must have required property 'x'" is reported on the object: name the property instead.
      const missing = /required property '([^']+)'/.exec(message)?.[1];
      if (missing) p = p ? `${p}.${missing}` : missing;
      else if (typeof property === 'string') p = p ? `${p}.${property}` : property;
      out[p] ??= typeof property === 'string' && !missing ? `${message} (${property})` : message;
    }
  }
  const m = /^([A-Za-z_][\w]*(?:\.[\w]+)*): (.+)$/.exec(err.message);
  if (m && m[1] && m[2]) out[norm(m[1])] ??= m[2];
  return out;
}
