import type { Ajv } from 'ajv';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { findBadText, TEXT_PROBLEM_MESSAGES, textProblem, type TextProblem } from '../../domain/schema-kit.js';
import { ValidationError } from '../../errors.js';

/**
 * One input policy for every route, applied before any handler, service or database sees a
 * request (issue #10): what Postgres or JavaScript cannot handle answers 400 with a stable code
 * instead of 500.
 *
 * - Text refuses NUL (Postgres `text` cannot store it) and lone UTF-16 surrogates (no UTF-8
 *   form; Postgres refuses or mangles them): every string and object key of a JSON body, every
 *   query value and every path parameter. Headers need nothing here: Node's HTTP parser already
 *   refuses NUL in them, and they are Latin-1, so they cannot carry a surrogate.
 * - JSON nesting is bounded on the raw text, iteratively, before JSON.parse or any recursive
 *   walk (validation, serialization) could overflow the stack.
 * - Integers in request schemas without a declared maximum get one, so `1e20` cannot reach a
 *   bigint column; int4 columns declare tighter bounds (schema-kit's BoundedInt and friends).
 */

export const MAX_JSON_DEPTH = 64;
/** The default upper bound of a request integer whose schema declares none. */
export const DEFAULT_INT_MAXIMUM = Number.MAX_SAFE_INTEGER;

const CODES: Record<TextProblem, string> = { nul: 'TEXT_NUL_CHARACTER', lone_surrogate: 'TEXT_LONE_SURROGATE' };

const refuse = (where: string, problem: TextProblem) => new ValidationError(CODES[problem], `${where}: ${TEXT_PROBLEM_MESSAGES[problem]}`, { path: where });

/** Throws TEXT_NUL_CHARACTER / TEXT_LONE_SURROGATE naming where the bad text was. */
export function assertCleanText(value: string, where: string): void {
  const problem = textProblem(value);
  if (problem) throw refuse(where, problem);
}

/** Every string and every key of a parsed JSON value, checked without recursion. */
export function assertCleanJson(root: unknown, where = 'body'): void {
  const bad = findBadText(root, where);
  if (bad) throw refuse(bad.path, bad.problem);
}

/** The deepest nesting of `[`/`{` in JSON text, ignoring brackets inside strings; stops early past `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** A date-time JavaScript can represent and Postgres can store: years 1 to 9999 (no year 0, no leap-second overflow into 10000). */
function storableDateTime(s: string): boolean {
  const ms = Date.parse(s);
  if (!Number.isFinite(ms)) return false;
  const year = new Date(ms).getUTCFullYear();
  return year >= 1 && year <= 9999;
}

/**
 * Narrows ajv-formats' `date-time` (RFC 3339 shape, real calendar days) to dates that survive
 * `new Date()` and a timestamptz column; call after addFormats, before any schema compiles.
 */
export function restrictFormats(ajv: Ajv): void {
  const base = ajv.formats['date-time'] as { validate?: (s: string) => boolean } | ((s: string) => boolean) | RegExp | undefined;
  const shape = (s: string) =>
    base === undefined ? true : base instanceof RegExp ? base.test(s) : typeof base === 'function' ? base(s) : (base.validate?.(s) ?? true);
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => shape(s) && storableDateTime(s) });
}

const HTTP_PARTS = ['body', 'querystring', 'params', 'headers'] as const;

/** A copy of a request schema in which every integer without a maximum gets the default one. */
export function boundIntegers<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(boundIntegers) as T;
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = boundIntegers(v);
  const type = out.type;
  const isInt = type === 'integer' || (Array.isArray(type) && type.includes('integer'));
  if (isInt && out.maximum === undefined && out.exclusiveMaximum === undefined) out.maximum = DEFAULT_INT_MAXIMUM;
  if (isInt && out.minimum === undefined && out.exclusiveMinimum === undefined) out.minimum = -DEFAULT_INT_MAXIMUM;
  return out as T;
}

function checkRequestText(req: FastifyRequest): void {
  for (const [k, v] of Object.entries((req.params ?? {}) as Record<string, unknown>)) if (typeof v === 'string') assertCleanText(v, `params.${k}`);
  for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
    assertCleanText(k, 'querystring (a key)');
    for (const s of Array.isArray(v) ? v : [v]) if (typeof s === 'string') assertCleanText(s, `querystring.${k}`);
  }
}

export function registerInputPolicy(app: FastifyInstance): void {
  // Before routes are added: each route's request schemas get their integers bounded.
  app.addHook('onRoute', (route: RouteOptions) => {
    const schema = route.schema as Record<string, unknown> | undefined;
    if (!schema) return;
    const bounded = { ...schema };
    for (const part of HTTP_PARTS) if (schema[part] && typeof schema[part] === 'object') bounded[part] = boundIntegers(schema[part]);
    route.schema = bounded;
  });

  // First among the onRequest hooks (before auth), so a bad id or query never reaches anything.
  app.addHook('onRequest', async (req) => checkRequestText(req));

  // The default JSON parser (prototype-poisoning protection included), behind a depth check on
  // the raw text and a text check on the parsed value.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      done(new ValidationError('BODY_TOO_DEEP', `the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`, { max_depth: MAX_JSON_DEPTH }), undefined);
      return;
    }
    parseJson(req, text, (err, value) => {
      if (err) return done(err, undefined);
      try {
        assertCleanJson(value);
      } catch (e) {
        return done(e as Error, undefined);
      }
      done(null, value);
    });
  });
}
