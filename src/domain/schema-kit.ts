/**
 * Building blocks for the API shapes each domain module declares in its schema.ts. A shape is
 * a TypeBox schema: the HTTP layer validates requests and documents /openapi.json with it, and
 * the services take `Static<typeof Shape>` as their input type, so the two cannot drift.
 *
 * The helpers emit exactly the JSON Schema the routes used before (`type: ['string', 'null']`
 * rather than anyOf, `enum` rather than unions of literals): same validation, same error
 * messages, same documentation.
 */
import { Type, type ObjectOptions, type SchemaOptions, type Static, type TProperties, type TSchema } from '@sinclair/typebox';

export { Type, type Static } from '@sinclair/typebox';

/** The same schema, also accepting null. */
export const Nullable = <T extends TSchema & { type: string }>(schema: T) => Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });

/** One of a fixed list of strings, as a plain `enum`. */
export const StringEnum = <const T extends readonly string[]>(values: T, options: SchemaOptions = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

/** Any JSON object whose fields the shape does not describe. */
export const FreeObject = (options: SchemaOptions = {}) => Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, ...options });

/** A JSON object whose fields are checked elsewhere (hyperparameters against the trainer's schema, say). */
export const AnyObject = (options: SchemaOptions = {}) => Type.Unsafe<Record<string, unknown>>({ type: 'object', ...options });

export const DateTime = (options: SchemaOptions = {}) => Type.String({ format: 'date-time', ...options });

/**
 * A response object. Its fields are listed without `required`: the serializer would throw on a
 * missing one rather than leave it out, and the API has never promised more than this.
 */
export const Out = <P extends TProperties>(properties: P, options: ObjectOptions = {}) => Type.Partial(Type.Object(properties, options));

/** One page of a cursor-paginated list. */
export const Page = <T extends TSchema>(item: T) => Out({ data: Type.Array(item), next_cursor: Nullable(Type.String()) });

/** A querystring's type once Ajv has filled in the defaults its schema declares. */
export type WithDefaults<T, K extends keyof T> = Omit<T, K> & Required<Pick<T, K>>;

/**
 * Bounded integers for request shapes (issue #10: `page=1e20` reached Postgres and answered
 * 500). The input policy (src/app/plugins/input-policy.ts) gives any integer without a maximum
 * Number.MAX_SAFE_INTEGER, which every bigint column holds; these are for the tighter cases.
 */
export const INT4_MAX = 2 ** 31 - 1;

/** An integer a Postgres `integer` column holds. */
export const BoundedInt = (options: SchemaOptions & { minimum?: number; maximum?: number } = {}) => Type.Integer({ minimum: 0, maximum: INT4_MAX, ...options });

/** A model version number (model_versions.version is an `integer`). */
export const VersionNumber = (options: SchemaOptions = {}) => BoundedInt({ minimum: 1, ...options });

/** An offset-paged list's page number: page × limit stays far inside what OFFSET takes. */
export const MAX_PAGE = 100_000;
export const PageNumber = (options: SchemaOptions = {}) => Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 1, ...options });

/** A page size, between 1 and `max`. */
export const PageLimit = (max: number, dflt: number, options: SchemaOptions = {}) => Type.Integer({ minimum: 1, maximum: max, default: dflt, ...options });

/** An opaque list cursor, as the previous page's next_cursor gave it. */
export const Cursor = (options: SchemaOptions = {}) => Type.String({ maxLength: 500, ...options });

/** A version ref in a path: a number (what an `integer` column holds) or an alias. */
export const isVersionNumber = (ref: string) => /^\d{1,10}$/.test(ref) && Number(ref) <= INT4_MAX;

/**
 * Text the API keeps: no NUL (Postgres `text` and `jsonb` cannot store it) and no lone UTF-16
 * surrogate (it has no UTF-8 form). One definition for the HTTP input policy and the dataset
 * validators.
 */
export type TextProblem = 'nul' | 'lone_surrogate';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function textProblem(value: string): TextProblem | null {
  if (value.includes('\u0000')) return 'nul';
  if (LONE_SURROGATE.test(value)) return 'lone_surrogate';
  return null;
}

export const TEXT_PROBLEM_MESSAGES: Record<TextProblem, string> = {
  nul: 'text must not contain the NUL character (\\u0000)',
  lone_surrogate: 'text must be valid Unicode (it contains a lone surrogate)',
};

/** The first string or key in a parsed JSON value with a text problem, walked without recursion. */
export function findBadText(root: unknown, where: string): { path: string; problem: TextProblem } | null {
  // A frame keeps its parent's path and its own key; the path string is built only for a node
  // whose children are visited, or one that is reported. Numbers, booleans and nulls are never
  // pushed: a large numeric array (an EEG recording sent as JSON) costs one pass, not a path
  // string per value.
  type Frame = [value: unknown, parent: string, key: string | number | null];
  const pathOf = ([, parent, key]: Frame): string => (key === null ? parent : typeof key === 'number' ? `${parent}[${key}]` : `${parent}.${key}`);
  const visit = (v: unknown) => typeof v === 'string' || (v !== null && typeof v === 'object');
  const stack: Frame[] = [[root, where, null]];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const value = frame[0];
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) return { path: pathOf(frame), problem };
    } else if (Array.isArray(value)) {
      let at: string | undefined;
      value.forEach((v, i) => {
        if (visit(v)) stack.push([v, (at ??= pathOf(frame)), i]);
      });
    } else if (value !== null && typeof value === 'object') {
      const at = pathOf(frame);
      for (const [k, v] of Object.entries(value)) {
        const problem = textProblem(k);
        if (problem) return { path: `${at} (a key)`, problem };
        if (visit(v)) stack.push([v, at, k]);
      }
    }
  }
  return null;
}
