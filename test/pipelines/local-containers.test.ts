/**
 * How the local runner starts a task's container (pipelines/local/containers.ts), without an engine:
 * the sandbox flags Kubernetes would give the pod, the folders at their own paths, configuration
 * passed by name only (no value on a command line), a network only when a server is configured, and
 * which local image stands for a spec's image. test/containers.test.ts runs the same with podman.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containerSettings, imageCandidates, runArguments } from '../../pipelines/local/containers.js';

describe('tasks in containers (pipelines/local/containers.ts)', () => {
  it('runs the task’s command as uid 1000, read-only, no network, folders at their own paths, variables by name', () => {
    const settings = containerSettings({
      engine: 'podman',
      home: '/data/home',
      env: { LOG_LEVEL: 'warn', PATH: '/usr/bin', HOME: '/root' },
      readOnly: ['/exports/a'],
    });
    assert.equal(settings.network, 'none');
    const args = runArguments(settings, 'localhost/marketplace-clean:abc', {
      command: ['node', '/app/dist/components/clean/main.js', '--snapshot', '/data/home/runs/r1/artifacts/snapshot'],
      env: { MARKETPLACE_RUN_ID: 'r1', MARKETPLACE_TASK: 'clean' },
    });
    const line = args.join(' ');
    for (const flag of [
      'run --rm --init --pull=never',
      '--network=none',
      '--read-only',
      '--user=1000:1000',
      '--cap-drop=all',
      '--security-opt=no-new-privileges',
      '--volume /data/home:/data/home:rw',
      '--volume /exports/a:/exports/a:ro',
    ]) {
      assert.ok(line.includes(flag), flag);
    }
    assert.match(line, /--tmpfs \/tmp:rw,exec,size=\w+,mode=1777/);
    assert.ok(
      line.endsWith(
        '--entrypoint node localhost/marketplace-clean:abc /app/dist/components/clean/main.js --snapshot /data/home/runs/r1/artifacts/snapshot',
      ),
      line,
    );
    const names = args.flatMap((arg, i) => (args[i - 1] === '--env' ? [arg] : []));
    assert.deepEqual(names.sort(), ['LOG_LEVEL', 'MARKETPLACE_HOME', 'MARKETPLACE_RUN_ID', 'MARKETPLACE_TASK']);
    assert.ok(!names.includes('PATH') && !names.includes('HOME'), 'not the runner’s whole environment');
  });

  it('a configured database or S3 server: the host’s network, credentials by name, never by value', () => {
    const secret = 'pg-password-9f3c';
    const env = {
      DATABASE_URL: `postgres://app:${secret}@127.0.0.1:5432/db`,
      S3_ENDPOINT: 'http://127.0.0.1:7480',
      AWS_SECRET_ACCESS_KEY: 'aws-secret-1d2e',
      ARTIFACT_ROOT: 's3://bucket/prefix',
    };
    const settings = containerSettings({ engine: 'docker', home: '/h', env });
    assert.equal(settings.network, 'host');
    const line = runArguments(settings, 'img', { command: ['node', '/app/main.js'], env: {} }).join(' ');
    assert.ok(line.includes('--network=host'));
    for (const name of ['DATABASE_URL', 'S3_ENDPOINT', 'AWS_SECRET_ACCESS_KEY', 'ARTIFACT_ROOT'])
      assert.ok(line.includes(`--env ${name} `), name);
    assert.ok(!line.includes(secret) && !line.includes('aws-secret-1d2e'), 'no secret on the command line');
    // A file:// artifact root outside home is mounted too.
    const fileRoot = containerSettings({ engine: 'podman', home: '/h', env: { ARTIFACT_ROOT: 'file:///srv/artifacts' } });
    assert.equal(fileRoot.network, 'none');
    assert.ok(
      runArguments(fileRoot, 'img', { command: ['node', '/app/main.js'], env: {} })
        .join(' ')
        .includes('--volume /srv/artifacts:/srv/artifacts:rw'),
    );
  });

  it('a spec’s image: itself, else the same name and tag built here, and train’s CPU flavour first where no GPU is visible', () => {
    assert.deepEqual(imageCandidates('registry.invalid/marketplace/marketplace-clean:abc', true), [
      'registry.invalid/marketplace/marketplace-clean:abc',
      'localhost/marketplace-clean:abc',
      'registry.invalid/marketplace/marketplace-clean:abc-cpu',
      'localhost/marketplace-clean:abc-cpu',
    ]);
    assert.deepEqual(imageCandidates('localhost/marketplace-train:abc', false), [
      'localhost/marketplace-train:abc-cpu',
      'localhost/marketplace-train:abc',
    ]);
  });
});
