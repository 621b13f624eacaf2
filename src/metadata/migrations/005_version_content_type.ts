/**
 * The content type belongs to a version, not to the file: an overwrite may change it, and each
 * location serves the version it holds (see `LiveReplica`), with that version's type. Served
 * from here, not from what the store keeps beside the object, which nobody authenticates.
 * Existing versions take their file's type.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table file_versions add column content_type text`.execute(db);
  await sql`update file_versions v set content_type = f.content_type from files f where f.id = v.file_id`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table file_versions drop column if exists content_type`.execute(db);
}
