/**
 * The replication engine's work as job handlers: replicate, move, verify. Each takes a JSON
 * payload (what the job queue stores) and is idempotent, so running it again after a crash —
 * or after another worker died holding it — converges instead of doing things twice. A move
 * saves the step it reached after each one, and resumes there.
 */
import { optionalPayloadText, payloadText, type PayloadHandler } from '../jobs/runner.ts';
import type { JsonObject } from '../metadata/index.ts';
import { MOVE_STEPS, type MoveStep, type Replicator } from './replicator.ts';


export const REPLICATION_KINDS = ['replicate', 'move', 'verify'] as const;
export type ReplicationKind = (typeof REPLICATION_KINDS)[number];


/**
 * Crash injection for the crash-safety tests: with MOVINGDATA_CRASH_AFTER=move:<step>, the
 * process kills itself (SIGKILL, no cleanup) right after that step of a move completes and its
 * progress is saved. Inert unless the variable is set.
 */
function crashPoint(point: string): void {
  if (process.env['MOVINGDATA_CRASH_AFTER'] === point) process.kill(process.pid, 'SIGKILL');
}

export function replicationHandlers(replicator: Replicator): Record<ReplicationKind, PayloadHandler> {
  return {
    async replicate(payload, { signal }) {
      const tier = optionalPayloadText(payload, 'tier');
      const sources = Array.isArray(payload['sources']) ? payload['sources'].filter((s): s is string => typeof s === 'string') : undefined;
      // A write's failed copy names its version: the retry makes that version, never a later one.
      const version = typeof payload['version'] === 'number' ? payload['version'] : undefined;
      const replica = await replicator.replicate(optionalPayloadText(payload, 'principal') ?? 'system', payloadText(payload, 'file_id'), payloadText(payload, 'location'), {
        signal,
        ...(tier === undefined ? {} : { tier }),
        ...(sources === undefined ? {} : { sources }),
        ...(version === undefined ? {} : { version }),
        ...(payload['restore'] === true ? { restore: true } : {}),
      });
      return { location: replica.location, state: replica.state, version: replica.version, tier: replica.tier, superseded: replica.superseded === true };
    },

    async move(payload, { signal, progress, saveProgress }) {
      const tier = optionalPayloadText(payload, 'tier');
      const version = typeof payload['version'] === 'number' ? payload['version'] : undefined;
      const move = {
        fileId: payloadText(payload, 'file_id'),
        from: payloadText(payload, 'from'),
        to: payloadText(payload, 'to'),
        ...(tier === undefined ? {} : { tier }),
        ...(version === undefined ? {} : { version }),
      };
      const principal = optionalPayloadText(payload, 'principal') ?? 'system';
      let step: MoveStep = MOVE_STEPS.includes(progress['step'] as MoveStep) ? (progress['step'] as MoveStep) : 'copy';
      const completed: string[] = Array.isArray(progress['completed']) ? (progress['completed'] as string[]) : [];
      while (step !== 'done') {
        signal.throwIfAborted();
        const next = await replicator.moveStep(principal, move, step, signal);
        completed.push(step);
        await saveProgress({ step: next, completed });
        crashPoint(`move:${step}`);
        step = next;
      }
      return { from: move.from, to: move.to, steps: completed };
    },

    async verify(payload, { signal }): Promise<JsonObject> {
      const { metadata } = replicator;
      const replica = await metadata.getReplica({ fileId: payloadText(payload, 'file_id'), version: Number(payload['version']), location: payloadText(payload, 'location') });
      const check = await replicator.verify(replica, { deep: payload['deep'] === true, signal });
      if (!check.ok) {
        await metadata.transitionReplica(replica, { from: replica.state, to: 'failed', lastError: check.message });
        return { ok: false, kind: check.kind, message: check.message };
      }
      return { ok: true };
    },
  };
}
