// Runs the project's OSS test server in its own process (so that benchmarks measure the adapter's
// memory, not the server's). Prints `{"endpoint": ...}` on stdout; stops on SIGTERM/SIGINT.
import { startOssServer } from '../../test/helpers/oss-server/server.ts';

const [accessKeyId = 'bench-ak', accessKeySecret = 'bench-secret', dataDir] = process.argv.slice(2);
const server = await startOssServer({ accessKeyId, accessKeySecret, dataDir });
process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint })}\n`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
