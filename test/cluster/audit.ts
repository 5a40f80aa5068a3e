/**
 * Reading the API server's audit log (JSON lines, Metadata level for every write; see
 * auditPolicyYaml), so tests can count the writes a given user made.
 */
import { existsSync, readFileSync } from 'node:fs';

/** The fields of an audit.k8s.io/v1 Event that tests filter on. */
export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  impersonatedUser?: { username: string; groups?: string[] };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  stageTimestamp: string;
}

/** Which events to keep; every given field must match. */
export interface AuditFilter {
  /** Username that made the request (the impersonated one, when impersonation was used). */
  user?: string;
  verbs?: string[];
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** Only events completed at or after this time. */
  since?: Date;
  /** Only requests that succeeded (HTTP 2xx); defaults to false (all). */
  succeededOnly?: boolean;
}

/** The effective user of an event: the impersonated user if any, else the authenticated one. */
export function effectiveUser(event: AuditEvent): string {
  return event.impersonatedUser?.username ?? event.user.username;
}

/** Parses audit log text (one JSON event per line); keeps only ResponseComplete events, one per request. */
export function parseAuditLog(text: string): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let event: AuditEvent;
    try {
      event = JSON.parse(line) as AuditEvent;
    } catch {
      // The API server may be mid-write on the last line; a partial line is not an event yet.
      continue;
    }
    if (event.stage === 'ResponseComplete') events.push(event);
  }
  return events;
}

/** Keeps the events that match every field of filter. */
export function filterAuditEvents(events: AuditEvent[], filter: AuditFilter): AuditEvent[] {
  return events.filter((e) => {
    const ref = e.objectRef ?? {};
    const code = e.responseStatus?.code ?? 0;
    return (
      (filter.user === undefined || effectiveUser(e) === filter.user) &&
      (filter.verbs === undefined || filter.verbs.includes(e.verb)) &&
      (filter.resource === undefined || ref.resource === filter.resource) &&
      (filter.subresource === undefined || ref.subresource === filter.subresource) &&
      (filter.namespace === undefined || ref.namespace === filter.namespace) &&
      (filter.name === undefined || ref.name === filter.name) &&
      (filter.since === undefined || new Date(e.stageTimestamp).getTime() >= filter.since.getTime()) &&
      (!filter.succeededOnly || (code >= 200 && code < 300))
    );
  });
}

/** Reads the audit log at path and returns the events matching filter ([] if there is no log yet). */
export function readAuditEvents(path: string, filter: AuditFilter = {}): AuditEvent[] {
  if (!existsSync(path)) return [];
  return filterAuditEvents(parseAuditLog(readFileSync(path, 'utf8')), filter);
}
