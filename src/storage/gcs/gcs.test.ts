import { Readable } from 'node:stream';
import { labEnv } from '../../../test/lab.ts';
import { startPrivateServer } from '../../lab/index.ts';
import { runStoreConformance } from '../conformance/suite.ts';
import { GcsStore } from './gcs-store.ts';

const lab = labEnv();
const projectId = lab['GCS_PROJECT_ID'];

runStoreConformance({
  name: 'gcs',
  open: (container) => new GcsStore({ location: 'conformance', bucket: container, apiEndpoint: lab['GCS_ENDPOINT'], projectId, keyRules: 'fake-gcs' }),
  // fake-gcs-server serves maxResults as asked; real GCS stops at 1000.
  widePages: true,
  serverLimits: {
    fileAndDirectory: 'fake-gcs-server’s filesystem backend keeps objects as files, so `a` and `a/b` cannot both exist; GCS has no such limit',
    prefixesOverLimit: 'fake-gcs-server applies maxResults to the objects of a page only, its prefixes come on top; GCS counts both',
  },
  badCredentials: {
    skip: 'fake-gcs-server does not authenticate: fakestorage/server.go (buildMuxer) routes every request without reading Authorization, and the SDK sends none to a custom endpoint',
  },
  stoppedServer: async (container) => {
    const server = await startPrivateServer('fake-gcs');
    try {
      const live = new GcsStore({ location: 'stopped', bucket: container, apiEndpoint: server.env['GCS_ENDPOINT'], projectId });
      await live.ensureContainer();
      await live.put('any/key', Readable.from([Buffer.from('x')]), { size: 1 });
      await live.close();
      await server.stop();
    } catch (err) {
      await server.dispose();
      throw err;
    }
    // No retries: the suite starts its three calls at once, and retries (with jitter) could
    // make a later call fail before an earlier one is awaited, an unhandled rejection.
    const store = new GcsStore({ location: 'stopped', bucket: container, apiEndpoint: server.env['GCS_ENDPOINT'], projectId, maxRetries: 0, timeoutMs: 5_000 });
    return { store, cleanup: () => server.dispose() };
  },
});
