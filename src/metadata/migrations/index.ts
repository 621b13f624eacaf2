/**
 * Every migration, in order, as a static list: nothing reads the filesystem at start-up, so
 * the store works the same from a checkout, a bundle or a compiled binary.
 *
 * Rules: a migration that has shipped is never edited; changes are new files named
 * `NNN_what.ts` (zero-padded, so Kysely's name order is the numeric order) and added here.
 * Both adapters run this same list.
 */
import type { Migration, MigrationProvider } from 'kysely/migration';
import * as m001 from './001_files_versions_replicas.ts';
import * as m002 from './002_principals_audit.ts';
import * as m003 from './003_jobs.ts';
import * as m004 from './004_consistency_reports.ts';
import * as m005 from './005_version_content_type.ts';
import * as m006 from './006_events.ts';
import * as m007 from './007_tiering.ts';
import * as m008 from './008_inventory.ts';

export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '001_files_versions_replicas': m001,
  '002_principals_audit': m002,
  '003_jobs': m003,
  '004_consistency_reports': m004,
  '005_version_content_type': m005,
  '006_events': m006,
  '007_tiering': m007,
  '008_inventory': m008,
});

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return { ...MIGRATIONS };
  },
};
