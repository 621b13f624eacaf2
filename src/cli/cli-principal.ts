/**
 * Who the audit trail names for what is done from the command line: `cli:<os user>`. The
 * command line works on the metadata store directly, without a token, so the operating
 * system's user is the best account of who it was.
 */
import { userInfo } from 'node:os';

export function cliPrincipal(): string {
  let user = 'unknown';
  try {
    user = userInfo().username.replace(/[^A-Za-z0-9._@-]/g, '_') || 'unknown';
  } catch {
    // No passwd entry (some containers): still record that the command line did it.
  }
  return `cli:${user}`;
}
