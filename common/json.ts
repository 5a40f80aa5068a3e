/** JSON helpers shared by every process. */

/**
 * JSON with object keys sorted at every level (undefined members dropped, as JSON.stringify drops
 * them), so equal values serialise to equal strings whatever order their keys were written in: what
 * revisions and routes generations hash, and what apply compares.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
