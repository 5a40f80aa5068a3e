import { toJsonSchema } from './schema.js';

describe('toJsonSchema', () => {
  it("turns OpenAPI v3.0's boolean exclusive bounds into JSON Schema's numeric ones", () => {
    expect(toJsonSchema({ type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 10000 })).toEqual({
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 10000,
    });
    expect(toJsonSchema({ type: 'number', maximum: 1, exclusiveMaximum: true })).toEqual({
      type: 'number',
      exclusiveMaximum: 1,
    });
  });

  it('keeps an inclusive bound when the exclusive flag is false', () => {
    expect(toJsonSchema({ type: 'integer', minimum: 1, exclusiveMinimum: false })).toEqual({
      type: 'integer',
      minimum: 1,
    });
  });
});
