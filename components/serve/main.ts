/**
 * `npm run serve`: the search service. Serves the model and index that `serving/current.json` names
 * (polled, hot-swapped when it changes), or the ones MODEL_VERSION / INDEX_VERSION pin (what a
 * Kubernetes rollout patches). Listens at once, so /healthz answers while the model loads and
 * /readyz says 503 until it has; with nothing loadable it stays up, not ready, and keeps polling.
 * Prints one JSON line when listening; stops cleanly on SIGTERM / SIGINT after in-flight requests.
 */
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, Option } from 'commander';
import {
  createCommand,
  createLogger,
  InputError,
  loadConfig,
  openArtifactStore,
  nonNegativeInteger,
  positiveInteger,
  printSummary,
  runMain,
} from '../core/platform/index.js';
import { buildApp, DEFAULT_TIMEOUTS } from './app.js';
import { DEFAULT_LIMITS } from './routes/context.js';
import { pinnedSource, servingRecordSource, ServingState } from './state.js';

interface ServeOptions {
  port: number;
  host: string;
  pollSeconds: number;
  modelVersion?: string;
  indexVersion?: string;
  maxUploadBytes: number;
  maxImagePixels: number;
  logRequests?: boolean;
  connectionTimeoutSeconds: number;
  requestTimeoutSeconds: number;
  keepAliveTimeoutSeconds: number;
  productVectors: 'float32' | 'int8';
  lexicalThreads: number;
}

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new InvalidArgumentError(`'${value}' is not a port number.`);
  return parsed;
}

function seconds(value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0)) throw new InvalidArgumentError(`'${value}' is not a positive number of seconds.`);
  return parsed;
}

export function serveCommand(env: NodeJS.ProcessEnv = process.env) {
  return createCommand(
    'serve',
    'Serve search over the production model and index (HTTP): text and image search, similar products, buyers for a product.',
  )
    .addOption(new Option('--port <port>', 'port to listen on').argParser(port).env('PORT').default(8080))
    .addOption(new Option('--host <host>', 'address to listen on').env('HOST').default('0.0.0.0'))
    .option('--poll-seconds <s>', 'how often serving/current.json is checked for a new version', seconds, 10)
    .addOption(
      new Option('--model-version <version>', 'serve this model instead of following serving/current.json (with --index-version)').env(
        'MODEL_VERSION',
      ),
    )
    .addOption(new Option('--index-version <version>', 'serve this index (with --model-version)').env('INDEX_VERSION'))
    .option('--max-upload-bytes <n>', 'largest image upload (413 above)', positiveInteger, DEFAULT_LIMITS.maxUploadBytes)
    .option('--max-image-pixels <n>', 'largest decoded image, width × height (400 above)', positiveInteger, DEFAULT_LIMITS.maxImagePixels)
    .option(
      '--connection-timeout-seconds <s>',
      'close a connection silent this long (a stalled client)',
      seconds,
      DEFAULT_TIMEOUTS.connectionTimeoutMs / 1000,
    )
    .option(
      '--request-timeout-seconds <s>',
      'answer 408 and close when a whole request has not arrived in this time (a trickling client)',
      seconds,
      DEFAULT_TIMEOUTS.requestTimeoutMs / 1000,
    )
    .option(
      '--keep-alive-timeout-seconds <s>',
      'close an idle keep-alive connection after this',
      seconds,
      DEFAULT_TIMEOUTS.keepAliveTimeoutMs / 1000,
    )
    .addOption(
      new Option('--product-vectors <how>', 'hold the product vectors as int8 codes (a quarter of the memory) or float32 as published')
        .choices(['int8', 'float32'])
        .env('PRODUCT_VECTORS')
        .default('int8'),
    )
    .addOption(
      new Option(
        '--lexical-threads <n>',
        'worker threads that read the lexical index for unfiltered queries beside the event loop (0: on the loop); one less than the CPUs the pod has is the most that helps',
      )
        .argParser(nonNegativeInteger)
        .env('LEXICAL_THREADS')
        .default(1),
    )
    .option('--log-requests', 'log every request')
    .action(async (options: ServeOptions) => {
      if (!options.modelVersion !== !options.indexVersion)
        throw new InputError('--model-version and --index-version (MODEL_VERSION, INDEX_VERSION) go together: set both or neither');
      const config = loadConfig(env);
      const log = createLogger('serve', config.logLevel);
      const store = openArtifactStore(config);
      const pinned =
        options.modelVersion && options.indexVersion ? { modelVersion: options.modelVersion, indexVersion: options.indexVersion } : null;
      const state = new ServingState({
        store,
        log,
        source: pinned ? pinnedSource(pinned) : servingRecordSource(store),
        loadOptions: { productVectors: options.productVectors, lexicalThreads: options.lexicalThreads },
      });
      const { app } = await buildApp({
        state,
        log,
        limits: { maxUploadBytes: options.maxUploadBytes, maxImagePixels: options.maxImagePixels },
        logRequests: options.logRequests,
        timeouts: {
          connectionTimeoutMs: Math.round(options.connectionTimeoutSeconds * 1000),
          requestTimeoutMs: Math.round(options.requestTimeoutSeconds * 1000),
          keepAliveTimeoutMs: Math.round(options.keepAliveTimeoutSeconds * 1000),
        },
      });

      const address = await app.listen({ port: options.port, host: options.host });
      log.info(
        { address, artifacts: config.artifactRoot, follows: pinned ? 'MODEL_VERSION/INDEX_VERSION' : 'serving/current.json' },
        `search service listening on ${address}`,
      );
      printSummary({ listening: address, artifactRoot: config.artifactRoot, pinned });
      await state.refresh();
      // A pinned version never changes, but a failed first load must still be retried.
      state.startPolling(options.pollSeconds);

      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info(`${signal}: finishing in-flight requests`);
          resolve();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      await app.close();
      await state.close();
      log.info('stopped');
    });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void runMain(serveCommand());
