/**
 * The latest drift scan per location on Kysely, shared by the PGlite and PostgreSQL adapters:
 * one upsert per scan, one read for the status.
 */
import { sql, type Kysely } from 'kysely';
import { MovingDataError } from '../../errors.ts';
import type { ConsistencyReport, ConsistencyReports, JsonObject } from '../port.ts';
import { guarded } from './errors.ts';
import { jsonText, toDate, toJsonObject, toNullableDate } from './rows.ts';
import type { Database } from './schema.ts';

const MAX_REPORT_BYTES = 1024 * 1024;

interface ReportRow {
  location: string;
  report: unknown;
  finished_at: unknown;
  last_clean_at: unknown;
}

function toReport(row: ReportRow): ConsistencyReport {
  return {
    location: row.location,
    report: toJsonObject(row.report, 'consistency_reports.report'),
    finishedAt: toDate(row.finished_at, 'consistency_reports.finished_at'),
    lastCleanAt: toNullableDate(row.last_clean_at, 'consistency_reports.last_clean_at'),
  };
}

export class SqlConsistencyReports implements ConsistencyReports {
  readonly #db: Kysely<Database>;
  readonly #guard: () => void;

  constructor(db: Kysely<Database>, guard: () => void) {
    this.#db = db;
    this.#guard = guard;
  }

  async save(location: string, report: JsonObject, clean: boolean): Promise<ConsistencyReport> {
    if (typeof location !== 'string' || location.length < 1 || location.length > 64) {
      throw new MovingDataError('invalid_argument', 'a consistency report needs a location name of 1 to 64 characters', { retryable: false });
    }
    const text = jsonText(report);
    if (Buffer.byteLength(text) > MAX_REPORT_BYTES) {
      throw new MovingDataError('invalid_argument', `a consistency report is at most ${MAX_REPORT_BYTES} bytes of JSON`, { retryable: false, details: { location } });
    }
    return guarded(this.#guard, 'saveConsistencyReport', async () => {
      const row = await this.#db
        .insertInto('consistency_reports')
        .values({ location, report: text, last_clean_at: clean ? sql<Date>`now()` : null })
        .onConflict((oc) =>
          oc.column('location').doUpdateSet({
            report: text,
            finished_at: sql<Date>`now()`,
            last_clean_at: clean ? sql<Date>`now()` : sql<Date | null>`consistency_reports.last_clean_at`,
          }),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
      return toReport(row);
    });
  }

  async latest(): Promise<ConsistencyReport[]> {
    return guarded(this.#guard, 'latestConsistencyReports', async () => {
      const rows = await this.#db.selectFrom('consistency_reports').selectAll().orderBy('location').execute();
      return rows.map(toReport);
    });
  }
}
