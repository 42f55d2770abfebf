import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { LazySchemas } from '../../src/app/lazy-schemas.js';

describe('LazySchemas', () => {
  it('compiles a validator on its first call, once, and passes ajv’s errors through', () => {
    const lazy = new LazySchemas();
    const ajv = new Ajv();
    let compiles = 0;
    const validate = lazy.validator(() => {
      compiles++;
      return ajv.compile({ type: 'object', required: ['a'], properties: { a: { type: 'integer' } } });
    });
    expect(compiles).toBe(0);
    expect(validate({ a: 'x' })).toBe(false);
    expect(validate.errors).toEqual([expect.objectContaining({ instancePath: '/a', message: 'must be integer' })]);
    expect(validate({ a: 1 })).toBe(true);
    expect(compiles).toBe(1);
    expect(lazy.compileAll()).toBe(0); // already compiled by its call
  });

  it('compileAll compiles what no request has, and throws a schema that does not compile', () => {
    const lazy = new LazySchemas();
    const ajv = new Ajv();
    const serialize = lazy.serializer(() => (d: unknown) => JSON.stringify(d));
    lazy.validator(() => ajv.compile({ type: 'integer' }));
    lazy.validator(() => ajv.compile({ type: 'no-such-type' } as object));
    expect(() => lazy.compileAll()).toThrow(/no-such-type|type must be/);
    expect(serialize({ a: 1 })).toBe('{"a":1}');
  });
});
