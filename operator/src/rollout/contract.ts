/**
 * The contract gate: before a candidate gets any traffic (live or mirrored), its V2 model metadata
 * must promise clients what the stable's did — same served name, same input and output names,
 * datatypes and shapes — unless spec.rollout.allowContractChange says the change is intended.
 *
 * Shapes are compared direction-aware, with -1 as the wildcard (a dynamic dimension):
 * - an input dimension may widen (64 → -1) but not narrow (-1 → 64) or change (64 → 32): every
 *   request the stable accepted must still be accepted;
 * - an output dimension may narrow (-1 → 10) but not widen (10 → -1) or change (10 → 5): every
 *   response must still have the shape clients were promised.
 */
import { parseModelMetadata, type ModelMetadata, type TensorMetadata } from '../../../contract/metadata.js';
import type { RouterStatsDocument } from '../../../contract/stats.js';

/**
 * The gate's outcome. `Unknown` (a revision's metadata has not been read yet) holds the candidate
 * at zero traffic; it is never a pass.
 */
export type ContractStatus = 'Compatible' | 'Allowed' | 'Incompatible' | 'Unknown';

/** The outcome with every difference found, and one line for status and Events. */
export interface ContractCheck {
  status: ContractStatus;
  differences: string[];
  message: string;
}

function shapeText(shape: number[]): string {
  return `[${shape.join(',')}]`;
}

/** Whether one dimension change keeps the promise, for an input or an output. */
function dimensionKept(kind: 'input' | 'output', stable: number, candidate: number): boolean {
  if (stable === candidate) return true;
  return kind === 'input' ? candidate === -1 : stable === -1;
}

function tensorDifferences(kind: 'input' | 'output', stable: TensorMetadata[], candidate: TensorMetadata[]): string[] {
  const out: string[] = [];
  const byName = new Map(candidate.map((t) => [t.name, t]));
  for (const s of stable) {
    const c = byName.get(s.name);
    if (c === undefined) {
      out.push(`${kind} ${s.name}: missing in the candidate`);
      continue;
    }
    if (c.datatype !== s.datatype) out.push(`${kind} ${s.name}: datatype ${s.datatype} → ${c.datatype}`);
    const kept = c.shape.length === s.shape.length && s.shape.every((d, i) => dimensionKept(kind, d, c.shape[i]!));
    if (!kept) out.push(`${kind} ${s.name}: shape ${shapeText(s.shape)} → ${shapeText(c.shape)}`);
  }
  const stableNames = new Set(stable.map((t) => t.name));
  for (const c of candidate) {
    if (!stableNames.has(c.name))
      out.push(`${kind} ${c.name}: new in the candidate (${c.datatype} ${shapeText(c.shape)})`);
  }
  return out;
}

/** Every way the candidate's metadata breaks the stable's promise to clients (empty when none). */
export function contractDifferences(stable: ModelMetadata, candidate: ModelMetadata): string[] {
  const out: string[] = [];
  if (stable.name !== candidate.name) out.push(`model name: ${stable.name} → ${candidate.name}`);
  out.push(...tensorDifferences('input', stable.inputs, candidate.inputs));
  out.push(...tensorDifferences('output', stable.outputs, candidate.outputs));
  return out;
}

/**
 * The gate for one candidate. Metadata not yet known gives `Unknown`; differences give
 * `Incompatible`, or `Allowed` when `allowContractChange` is set (the differences are still listed,
 * so status says what changed).
 */
export function checkContract(
  stable: ModelMetadata | undefined,
  candidate: ModelMetadata | undefined,
  allowContractChange = false,
): ContractCheck {
  if (stable === undefined || candidate === undefined) {
    const missing = [stable === undefined ? 'stable' : undefined, candidate === undefined ? 'candidate' : undefined]
      .filter(Boolean)
      .join(' and ');
    return { status: 'Unknown', differences: [], message: `model metadata of the ${missing} not known yet` };
  }
  const differences = contractDifferences(stable, candidate);
  if (differences.length === 0)
    return { status: 'Compatible', differences, message: 'inputs and outputs match the stable revision' };
  const list = differences.join('; ');
  if (allowContractChange)
    return {
      status: 'Allowed',
      differences,
      message: `contract change allowed by spec.rollout.allowContractChange: ${list}`,
    };
  return {
    status: 'Incompatible',
    differences,
    message: `candidate breaks the stable contract (set spec.rollout.allowContractChange to allow): ${list}`,
  };
}

/**
 * A revision's V2 metadata as the router reports it in its stats documents, under the proposed
 * member `models: {"<route>": {"metadata": <GET /v2/models/{name} body>}}`. The newest document
 * (by `time`) that carries well-formed metadata for the route wins; undefined when none does yet
 * (routers that predate the member included), which keeps the contract gate at Unknown.
 */
export function modelMetadataOf(documents: RouterStatsDocument[], route: string): ModelMetadata | undefined {
  const newestFirst = [...documents].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  for (const doc of newestFirst) {
    const metadata = parseModelMetadata(doc.models?.[route]?.metadata);
    if (metadata) return metadata;
  }
  return undefined;
}
