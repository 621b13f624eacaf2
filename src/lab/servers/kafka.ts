/**
 * Apache Kafka in KRaft mode (one combined broker + controller), the lab's event bus. The jars
 * come from Maven Central through src/lab/kafka/pom.xml (no tarball downloads); the storage is
 * formatted once with a random cluster id, and the broker logs to server.log through its own
 * log4j configuration. Readiness is a Kafka Metadata request that lists the broker, which a
 * KRaft broker does only once it is unfenced and serving.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MovingDataError } from '../../errors.ts';
import { KAFKA_VERSION, PROJECT_ROOT } from '../paths.ts';
import { kafkaMetadataBrokers } from '../probes.ts';
import {
  DetachedProcess,
  LAB_HOST,
  logTail,
  serverError,
  type LabContext,
  type LabLog,
  type LabServer,
  type Placement,
} from '../server.ts';
import { requireTools, runLogged } from '../system.ts';

export const KAFKA_PORT = 9092;
export const KAFKA_CONTROLLER_PORT = 9093;

const POM = join(PROJECT_ROOT, 'src', 'lab', 'kafka', 'pom.xml');

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function pomStamp(): Promise<string> {
  return `${KAFKA_VERSION} ${createHash('sha256').update(await readFile(POM)).digest('hex')}`;
}

async function jarsInstalled(home: string, lib: string): Promise<boolean> {
  const stamp = await readFile(join(home, 'lib.stamp'), 'utf8').catch(() => '');
  if (stamp.trim() !== (await pomStamp())) return false;
  const jars = await readdir(lib).catch(() => [] as string[]);
  return jars.includes(`kafka_2.13-${KAFKA_VERSION}.jar`);
}

/** Copies Kafka and its runtime dependencies from Maven Central into the lab's kafka lib/. */
async function installJars(home: string, lib: string, log: LabLog): Promise<void> {
  if (await jarsInstalled(home, lib)) return;
  await requireTools({ mvn: 'to fetch the Kafka jars from Maven Central', java: 'to run Kafka' });
  await mkdir(home, { recursive: true });
  const logPath = join(home, 'install.log');
  const pom = join(home, 'pom.xml');
  await writeFile(pom, await readFile(POM));
  const scratch = `${lib}.tmp-${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  await writeFile(logPath, `--- ${new Date().toISOString()} mvn dependency:copy-dependencies\n`);
  log(`fetching Kafka ${KAFKA_VERSION} jars from Maven Central (log: ${logPath})`);
  const result = await runLogged(
    'mvn',
    ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${scratch}`],
    { logPath, cwd: home, timeoutMs: 20 * 60_000 },
  );
  if (result.code !== 0) {
    await rm(scratch, { recursive: true, force: true });
    const why = result.timedOut ? 'timed out' : `exited with ${result.code ?? result.signal}`;
    throw new MovingDataError(
      'unavailable',
      `lab kafka: mvn dependency:copy-dependencies ${why}\n  log: ${logPath}\n  last lines:\n${await logTail(logPath)}`,
      { details: { server: 'kafka', logPath } },
    );
  }
  await rm(lib, { recursive: true, force: true });
  await rename(scratch, lib);
  await writeFile(join(home, 'lib.stamp'), `${await pomStamp()}\n`);
}

/** A Kafka cluster id: 16 random bytes, base64url without padding, as `kafka-storage random-uuid` makes. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka avoids ids starting with '-' so they never look like a command-line flag.
    if (!id.startsWith('-')) return id;
  }
}

function serverProperties(dataDir: string, port: number, controllerPort: number): string {
  return `# Written by the MovingData lab on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${LAB_HOST}:${controllerPort}
listeners=PLAINTEXT://${LAB_HOST}:${port},CONTROLLER://${LAB_HOST}:${controllerPort}
advertised.listeners=PLAINTEXT://${LAB_HOST}:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${dataDir}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# One broker: fewer internal partitions make the first consumer group and transaction quick.
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
`;
}

function log4jProperties(logPath: string): string {
  return `# Written by the MovingData lab: everything goes to server.log in the run directory.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${logPath}
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.log=WARN
log4j.logger.kafka.cluster=WARN
log4j.logger.org.apache.kafka.storage=WARN
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.apache.zookeeper=WARN
`;
}

export function kafkaServer(ctx: LabContext, at: Placement): LabServer {
  const { kafkaHome, kafkaLib } = ctx.paths;
  const controllerPort = at.secondPort ?? KAFKA_CONTROLLER_PORT;
  const dataDir = join(at.dir, 'data');
  const logPath = join(at.dir, 'server.log');
  const propertiesPath = join(at.dir, 'server.properties');
  const log4jPath = join(at.dir, 'log4j.properties');
  const classPath = join(kafkaLib, '*'); // Java expands the wildcard itself.
  const proc = new DetachedProcess({
    dir: at.dir,
    logPath,
    pidPath: join(at.dir, 'server.pid'),
    marker: propertiesPath,
    // A controlled shutdown of a combined node takes a few seconds.
    graceMs: 30_000,
  });
  const self = { name: 'kafka' as const, logPath };

  return {
    name: 'kafka',
    port: at.port,
    ports: [at.port, controllerPort],
    dir: at.dir,
    logPath,
    startTimeoutMs: 120_000,
    installed: () => jarsInstalled(kafkaHome, kafkaLib),
    install: (log) => installJars(kafkaHome, kafkaLib, log),
    async start() {
      await requireTools({ java: 'to run Kafka' });
      await mkdir(dataDir, { recursive: true });
      await writeFile(propertiesPath, serverProperties(dataDir, at.port, controllerPort));
      await writeFile(log4jPath, log4jProperties(logPath));
      const jvmLogging = [`-Dlog4j.configuration=file:${log4jPath}`, `-Dkafka.logs.dir=${at.dir}`];
      if (!(await exists(join(dataDir, 'meta.properties')))) {
        const result = await runLogged(
          'java',
          [...jvmLogging, '-cp', classPath, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', propertiesPath],
          { logPath, cwd: at.dir, timeoutMs: 120_000 },
        );
        if (result.code !== 0) {
          throw await serverError(self, `formatting the KRaft storage in ${dataDir} failed`);
        }
      }
      await proc.start('java', [
        '-Xmx512m',
        '-Xms128m',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        ...jvmLogging,
        '-cp',
        classPath,
        'kafka.Kafka',
        propertiesPath,
      ]);
    },
    ready: async () => {
      try {
        return (await kafkaMetadataBrokers(LAB_HOST, at.port)).length > 0;
      } catch {
        return false;
      }
    },
    stop: () => proc.stop(),
    pid: () => proc.pid(),
    env: () => ({ KAFKA_BOOTSTRAP: `${LAB_HOST}:${at.port}` }),
  };
}
