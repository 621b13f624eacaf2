import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStoreConformance } from '../conformance/suite.ts';
import { LocalStore } from './local-store.ts';

const root = mkdtempSync(join(tmpdir(), 'movingdata-local-'));

runStoreConformance({
  name: 'local',
  open: (container) => new LocalStore({ location: 'conformance', root: join(root, container) }),
  badCredentials: { skip: 'local disk has no credentials' },
  stoppedServer: { skip: 'local disk has no server to stop' },
});
