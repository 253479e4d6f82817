/**
 * The compiled marketplace pipeline is a spec the KFP 2.17 backend parses: both YAML documents pass a
 * strict protojson-style check against the release's own protos (fixtures/kfp-2.17/). And the check
 * can fail: small hand-made specs with an unknown field, a bad enum value, a wrong type are refused.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type protobuf from 'protobufjs';
import { compileToYaml } from '../../pipelines/marketplace/compile.js';
import { marketplaceRanking } from '../../pipelines/marketplace/pipeline.js';
import { checkCompiledYaml, checkJson, checkPipelineSpec, checkPlatformSpec, jsonName, loadKfpProtos } from '../kfp-proto.js';

let root: protobuf.Root;
before(() => {
  root = loadKfpProtos();
});

/** A minimal valid PipelineSpec with one container task, to break one thing at a time. */
function smallSpec(): Record<string, unknown> {
  return {
    pipelineInfo: { name: 'tiny' },
    schemaVersion: '2.1.0',
    sdkVersion: 'test',
    components: {
      'comp-hello': {
        executorLabel: 'exec-hello',
        inputDefinitions: { parameters: { who: { parameterType: 'STRING', defaultValue: 'world', isOptional: true } } },
      },
    },
    deploymentSpec: {
      executors: { 'exec-hello': { container: { image: 'busybox:1.36', command: ['echo'], args: ["{{$.inputs.parameters['who']}}"] } } },
    },
    root: {
      dag: {
        tasks: {
          hello: {
            componentRef: { name: 'comp-hello' },
            taskInfo: { name: 'hello' },
            inputs: { parameters: { who: { runtimeValue: { constant: 'kfp' } } } },
            retryPolicy: { maxRetryCount: 2, backoffDuration: '0s', backoffFactor: 2, backoffMaxDuration: '3600s' },
          },
        },
      },
    },
  };
}

type Obj = Record<string, unknown>;
const at = (value: unknown, ...keys: string[]): Obj => keys.reduce<Obj>((o, k) => o[k] as Obj, value as Obj);

describe('strict KFP 2.17 proto check', () => {
  it('derives JSON names as protoc does', () => {
    assert.equal(jsonName('secret_name_parameter'), 'secretNameParameter');
    assert.equal(jsonName('pipelineConfig'), 'pipelineConfig');
    assert.equal(jsonName('key_to_env'), 'keyToEnv');
  });

  it('accepts the small spec, and proto field names as protojson does', () => {
    assert.deepEqual(checkPipelineSpec(root, smallSpec()), []);
    const spec = smallSpec();
    spec['schema_version'] = spec['schemaVersion'];
    delete spec['schemaVersion'];
    assert.deepEqual(checkPipelineSpec(root, spec), []);
  });

  it('refuses an unknown field, naming its path', () => {
    const spec = smallSpec();
    at(spec, 'root', 'dag', 'tasks', 'hello')['retries'] = 3;
    assert.deepEqual(checkPipelineSpec(root, spec), [
      `$.root.dag.tasks.hello.retries: unknown field 'retries' in ml_pipelines.PipelineTaskSpec`,
    ]);
  });

  it('refuses an unknown field inside deploymentSpec (a Struct the driver reads as PipelineDeploymentConfig)', () => {
    const spec = smallSpec();
    at(spec, 'deploymentSpec', 'executors', 'exec-hello', 'container')['imagePullPolicy'] = 'Always';
    const errors = checkPipelineSpec(root, spec);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^\$\.deploymentSpec\.executors\["exec-hello"\]\.container\.imagePullPolicy: unknown field/);
  });

  it('refuses a bad enum value', () => {
    const spec = smallSpec();
    at(spec, 'components', 'comp-hello', 'inputDefinitions', 'parameters', 'who')['parameterType'] = 'TEXT';
    const errors = checkPipelineSpec(root, spec);
    assert.equal(errors.length, 1);
    assert.match(
      errors[0]!,
      /^\$\.components\["comp-hello"\]\.inputDefinitions\.parameters\.who\.parameterType: 'TEXT' is not a value of ml_pipelines\.ParameterType\.ParameterTypeEnum/,
    );
  });

  it('refuses wrong types: a string for an int32, an object for a string, a list for a map, a bad duration', () => {
    const spec = smallSpec();
    const task = at(spec, 'root', 'dag', 'tasks', 'hello');
    at(task, 'retryPolicy')['maxRetryCount'] = 'two';
    at(task, 'retryPolicy')['backoffDuration'] = 0;
    at(task, 'taskInfo')['name'] = { text: 'hello' };
    at(spec, 'root', 'dag')['tasks'] = [task];
    assert.deepEqual(checkPipelineSpec(root, spec), ['$.root.dag.tasks: expected an object (map<string, PipelineTaskSpec>), got array']);
    at(spec, 'root', 'dag')['tasks'] = { hello: task };
    assert.deepEqual(checkPipelineSpec(root, spec).sort(), [
      '$.root.dag.tasks.hello.retryPolicy.backoffDuration: expected a duration such as "3600s", got 0',
      '$.root.dag.tasks.hello.retryPolicy.maxRetryCount: "two" is not an integer (int32)',
      '$.root.dag.tasks.hello.taskInfo.name: expected string, got object {"text":"hello"}',
    ]);
  });

  it('refuses two members of one oneof and the same field under both names', () => {
    const spec = smallSpec();
    at(spec, 'root', 'dag', 'tasks', 'hello', 'inputs', 'parameters')['who'] = {
      runtimeValue: { constant: 'a' },
      componentInputParameter: 'who',
    };
    spec['sdk_version'] = 'again';
    const errors = checkPipelineSpec(root, spec);
    assert.equal(errors.length, 2);
    assert.match(
      errors.join('\n'),
      /\$\.root\.dag\.tasks\.hello\.inputs\.parameters\.who\.componentInputParameter: oneof ml_pipelines\.TaskInputsSpec\.InputParameterSpec\.kind is already set by 'runtimeValue'/,
    );
    assert.match(errors.join('\n'), /\$\.sdk_version: duplicate field/);
  });

  it('checks Kubernetes executor config: int64 as a string or number, wrong types and unknown fields', () => {
    const platform = (config: unknown): unknown => ({
      platforms: { kubernetes: { deploymentSpec: { executors: { 'exec-hello': config } } } },
    });
    const toleration = { key: 'gpu', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: '300' };
    assert.deepEqual(checkPlatformSpec(root, platform({ tolerations: [toleration], imagePullPolicy: 'IfNotPresent' })), []);
    assert.deepEqual(checkPlatformSpec(root, platform({ tolerations: [{ ...toleration, tolerationSeconds: 300 }] })), []);
    assert.deepEqual(checkPlatformSpec(root, platform({ tolerations: [{ ...toleration, tolerationSeconds: '5m' }] })), [
      '$.platforms.kubernetes.deploymentSpec.executors["exec-hello"].tolerations[0].tolerationSeconds: "5m" is not an integer (int64)',
    ]);
    assert.deepEqual(
      checkPlatformSpec(
        root,
        platform({ secretAsEnv: [{ secretName: 's', keyToEnv: [{ secretKey: 'k', envVar: 'E' }], mandatory: true }] }),
      ),
      [
        `$.platforms.kubernetes.deploymentSpec.executors["exec-hello"].secretAsEnv[0].mandatory: unknown field 'mandatory' in kfp_kubernetes.SecretAsEnv`,
      ],
    );
    assert.deepEqual(checkPlatformSpec(root, platform({ imagePullPolicy: 1, nodeSelector: { labels: ['gpu'] } })), [
      '$.platforms.kubernetes.deploymentSpec.executors["exec-hello"].imagePullPolicy: expected string, got number 1',
      '$.platforms.kubernetes.deploymentSpec.executors["exec-hello"].nodeSelector.labels: expected an object (map<string, string>), got array',
    ]);
  });

  it('google.protobuf.Value and Struct take any JSON', () => {
    assert.deepEqual(checkJson(root, 'google.protobuf.Value', { a: [1, 'x', null, { b: true }] }), []);
    assert.deepEqual(checkJson(root, 'google.protobuf.Struct', [1]), ['$: expected an object (google.protobuf.Struct), got array']);
  });

  it('the compiled marketplace pipeline passes, both documents', async () => {
    const yaml = await compileToYaml(marketplaceRanking, { imageRegistry: 'registry.example/marketplace' });
    const result = checkCompiledYaml(root, yaml);
    assert.equal(result.documents, 2, 'the spec carries a Kubernetes platform document');
    assert.deepEqual(result.errors, []);
    // The check reaches the typed parts: break one field in each document and it is seen.
    const broken = yaml.replace(/^(\s+)image: /m, '$1imageName: ').replace(/^(\s+)secretNameParameter:/m, '$1secretNameParam:');
    const errors = checkCompiledYaml(root, broken).errors;
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.match(errors[0]!, /^PipelineSpec \$\.deploymentSpec\.executors\["exec-[a-z-]+"\]\.container\.imageName: unknown field/);
    assert.match(
      errors[1]!,
      /^PlatformSpec \$\.platforms\.kubernetes\.deploymentSpec\.executors\["exec-[a-z-]+"\]\.secretAsEnv\[0\]\.secretNameParam: unknown field/,
    );
  });
});
