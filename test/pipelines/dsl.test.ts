/**
 * The compiler against the KFP SDK's own output: pipelines from test/fixtures/kfp-reference/ written again
 * in our DSL must compile to the same structure (components, DAGs, bindings, triggers, iterators,
 * platform spec); only the executors differ (their containers are Python there). Then the wiring
 * errors, each naming the task and the input.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import {
  artifact,
  compilePipeline,
  component,
  eq,
  exitHandler,
  parallelFor,
  param,
  pipeline,
  PipelineCompileError,
  toYaml,
  when,
  type IOSpecs,
  type PipelineDefinition,
} from '../../pipelines/dsl/index.js';
import { REPO_ROOT } from '../helpers.js';

const REFERENCE = path.join(REPO_ROOT, 'test', 'fixtures', 'kfp-reference');
const OPTIONS = { imageRegistry: 'registry.example/marketplace', imageTag: '0.1.0', compilerVersion: 'test' };

/** Parses YAML strictly (YAML 1.2, errors fail): what the Kubeflow UI's parser must accept. */
function parseStrict(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text, { strict: true, prettyErrors: true }).map((doc) => {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
    return doc.toJS() as Record<string, unknown>;
  });
}

/** Everything but the executors' containers and the name of the SDK that wrote it. */
function structure(doc: Record<string, unknown>): Record<string, unknown> {
  const { deploymentSpec, sdkVersion, ...rest } = doc;
  void sdkVersion;
  const executors = Object.keys((deploymentSpec as { executors: Record<string, unknown> }).executors).sort();
  return { ...rest, executors };
}

async function compareWithReference(file: string, definition: PipelineDefinition): Promise<string> {
  const reference = parseStrict(await readFile(path.join(REFERENCE, file), 'utf8'));
  const yaml = toYaml(definition, compilePipeline(definition, OPTIONS));
  const ours = parseStrict(yaml);
  assert.equal(ours.length, reference.length, 'same number of YAML documents');
  assert.deepEqual(structure(ours[0]!), structure(reference[0]!));
  if (reference[1]) assert.deepEqual(ours[1], reference[1], 'platform spec');
  const referenceHeader = (await readFile(path.join(REFERENCE, file), 'utf8')).split('\n').filter((l) => l.startsWith('#'));
  assert.deepEqual(
    yaml.split('\n').filter((l) => l.startsWith('#')),
    referenceHeader,
    'header comment',
  );
  return yaml;
}

/** A container component with no command line of interest (these tests compare structure). */
function op<I extends IOSpecs, O extends IOSpecs>(
  name: string,
  inputs: I,
  outputs: O,
  extra: { caching?: boolean; platform?: Parameters<typeof component>[0]['platform'] } = {},
) {
  return component({ name, image: name, command: ['run'], inputs, outputs, args: () => [], ...extra });
}

describe('compiled specs have the structure the KFP SDK writes', () => {
  it('pipeline_with_condition.yaml: a condition sub-DAG, channels for outer values, a string comparison', async () => {
    const flipCoinOp = op('flip-coin-op', {}, { Output: param.string() }, { caching: false });
    const printOp = op('print-op', { msg: param.string() }, {});
    const definition = pipeline(
      { name: 'single-condition-pipeline', inputs: { text: param.string({ default: 'condition test' }) } },
      ({ text }) => {
        const flip = flipCoinOp({});
        printOp({ msg: flip.outputs.Output });
        when(eq(flip.outputs.Output, 'heads'), () => {
          const flip2 = flipCoinOp({});
          printOp({ msg: flip2.outputs.Output });
          printOp({ msg: text });
        });
      },
    );
    await compareWithReference('pipeline_with_condition.yaml', definition);
  });

  it('when/otherwise compiles as the SDK compiles dsl.If/dsl.Else (kfp 2.17 test_data if_else_with_oneof_*): a branches sub-DAG, the second condition negated', () => {
    const flipCoin = op('flip-coin', {}, { Output: param.string() });
    const printOp = op('print-op', { msg: param.string() }, {});
    const definition = pipeline({ name: 'flip-coin-pipeline', inputs: {} }, () => {
      const flip = flipCoin({});
      when(eq(flip.outputs.Output, 'heads'), () => void printOp({ msg: flip.outputs.Output })).otherwise(
        () => void printOp({ msg: flip.outputs.Output }),
      );
    });
    // biome-ignore lint/suspicious/noExplicitAny: the test walks a parsed YAML document whose shape it asserts.
    const [spec] = parseStrict(toYaml(definition, compilePipeline(definition, OPTIONS))) as [Record<string, any>];
    const channel = { parameters: { 'pipelinechannel--flip-coin-Output': { parameterType: 'STRING' } } };
    const heads = "inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'heads'";
    // As the SDK writes it: the wrapper takes the If's number, the If is renumbered, the Else follows.
    assert.deepEqual(spec['root'].dag.tasks['condition-branches-1'], {
      componentRef: { name: 'comp-condition-branches-1' },
      dependentTasks: ['flip-coin'],
      inputs: {
        parameters: {
          'pipelinechannel--flip-coin-Output': { taskOutputParameter: { outputParameterKey: 'Output', producerTask: 'flip-coin' } },
        },
      },
      taskInfo: { name: 'condition-branches-1' },
    });
    const branches = spec['components']['comp-condition-branches-1'];
    assert.deepEqual(branches.inputDefinitions, channel);
    assert.deepEqual(branches.dag.tasks['condition-2'], {
      componentRef: { name: 'comp-condition-2' },
      inputs: { parameters: { 'pipelinechannel--flip-coin-Output': { componentInputParameter: 'pipelinechannel--flip-coin-Output' } } },
      taskInfo: { name: 'condition-2' },
      triggerPolicy: { condition: heads },
    });
    assert.equal(branches.dag.tasks['condition-3'].triggerPolicy.condition, `!(${heads})`);
    assert.deepEqual(spec['components']['comp-condition-3'].dag.tasks['print-op-2'].inputs, {
      parameters: { msg: { componentInputParameter: 'pipelinechannel--flip-coin-Output' } },
    });
  });

  it('otherwise() must directly follow its when(), once', () => {
    const flipCoin = op('flip-coin', {}, { Output: param.string() });
    const printOp = op('print-op', { msg: param.string() }, {});
    const twice = pipeline({ name: 'twice', inputs: {} }, () => {
      const flip = flipCoin({});
      const branch = when(eq(flip.outputs.Output, 'heads'), () => void printOp({ msg: 'a' }));
      branch.otherwise(() => void printOp({ msg: 'b' }));
      branch.otherwise(() => void printOp({ msg: 'c' }));
    });
    assert.throws(() => compilePipeline(twice, OPTIONS), /otherwise\(\) must follow its when\(\)|already has an otherwise/);
    const late = pipeline({ name: 'late', inputs: {} }, () => {
      const flip = flipCoin({});
      const branch = when(eq(flip.outputs.Output, 'heads'), () => void printOp({ msg: 'a' }));
      printOp({ msg: 'between' });
      branch.otherwise(() => void printOp({ msg: 'b' }));
    });
    assert.throws(() => compilePipeline(late, OPTIONS), /otherwise\(\) must follow its when\(\) \(condition-1\) directly/);
  });

  it('pipeline_with_exit_handler.yaml: an exit task triggered when the guarded tasks complete, whatever their status', async () => {
    const printOp = op('print-op', { message: param.string() }, {});
    const failOp = op('fail-op', { message: param.string() }, {});
    const definition = pipeline(
      { name: 'pipeline-with-exit-handler', inputs: { message: param.string({ default: 'Hello World!' }) } },
      ({ message }) => {
        exitHandler(
          () => printOp({ message: 'Exit handler has worked!' }),
          () => {
            printOp({ message });
            failOp({ message: 'Task failed.' });
          },
        );
      },
    );
    await compareWithReference('pipeline_with_exit_handler.yaml', definition);
  });

  it('pipeline_with_metrics_outputs.yaml: a parallelFor over a constant list, Metrics artifacts', async () => {
    const outputMetrics = op('output-metrics', {}, { metrics: artifact.metrics() });
    const definition = pipeline({ name: 'pipeline-with-metrics-outputs', inputs: {} }, () => {
      outputMetrics({});
      parallelFor([1, 2], () => {
        outputMetrics({});
      });
    });
    await compareWithReference('pipeline_with_metrics_outputs.yaml', definition);
  });

  it('lightweight_python_functions_pipeline.yaml: parameters and artifacts passed task to task, constants, defaults', async () => {
    const preprocess = op(
      'preprocess',
      { input_dict_parameter: param.struct(), input_list_parameter: param.list(), message: param.string() },
      {
        output_dataset_one: artifact.dataset(),
        output_dataset_two_path: artifact.dataset(),
        output_bool_parameter_path: param.boolean(),
        output_dict_parameter_path: param.struct(),
        output_list_parameter_path: param.list(),
        output_parameter_path: param.string(),
      },
    );
    const train = op(
      'train',
      {
        dataset_one_path: artifact.dataset(),
        dataset_two: artifact.dataset(),
        input_bool: param.boolean(),
        input_dict: param.struct(),
        input_list: param.list(),
        message: param.string(),
        num_steps: param.integer({ default: 100 }),
      },
      { model: artifact.model() },
    );
    const definition = pipeline(
      { name: 'my-test-pipeline-beta', inputs: { input_dict: param.struct({ default: { A: 1.0, B: 2.0 } }), message: param.string() } },
      ({ input_dict, message }) => {
        const pre = preprocess({ input_dict_parameter: input_dict, input_list_parameter: ['a', 'b', 'c'], message });
        train({
          dataset_one_path: pre.outputs.output_dataset_one,
          dataset_two: pre.outputs.output_dataset_two_path,
          input_bool: pre.outputs.output_bool_parameter_path,
          input_dict: pre.outputs.output_dict_parameter_path,
          input_list: pre.outputs.output_list_parameter_path,
          message: pre.outputs.output_parameter_path,
        });
      },
    );
    await compareWithReference('lightweight_python_functions_pipeline.yaml', definition);
  });

  it('node_selector.yaml and toleration.yaml: the Kubernetes platform spec as a second document', async () => {
    const gpu = op('comp', {}, {}, { platform: { nodeSelector: { 'cloud.google.com/gke-accelerator': 'nvidia-tesla-p4' } } });
    await compareWithReference(
      'node_selector.yaml',
      pipeline({ name: 'my-pipeline', inputs: {} }, () => void gpu({})),
    );
    const tolerant = op(
      'comp',
      {},
      {},
      {
        platform: { tolerations: [{ key: 'key1', operator: 'Equal', value: 'value1', effect: 'NoExecute', tolerationSeconds: 10 }] },
      },
    );
    await compareWithReference(
      'toleration.yaml',
      pipeline({ name: 'my-pipeline', inputs: {} }, () => void tolerant({})),
    );
  });
});

describe('shapes the KFP SDK writes that the shared references do not show', () => {
  // Expected values quoted from kubeflow/pipelines test data: pipeline_with_resource_spec.yaml (kfp 2.13),
  // pipeline_with_retry.yaml, pipeline_with_env.yaml, pipeline_with_task_final_status.yaml.
  it('resources (new and legacy fields), retries with backoff defaults, env, and a final-status input', () => {
    const trainer = component({
      name: 'trainer',
      image: 'trainer',
      command: ['run'],
      inputs: { status: param.taskFinalStatus() },
      outputs: {},
      args: () => [],
      env: { ENV1: 'val0', ENV2: 'val2' },
      resources: { cpu: '4', cpuRequest: '2', memory: '14Gi', memoryRequest: '4Gi', gpu: { count: 1, type: 'tpu-v3' } },
      retries: 3,
    });
    const work = op('work', {}, {});
    const definition = pipeline({ name: 'shapes', inputs: {} }, () => {
      exitHandler(
        () => trainer({}),
        () => void work({}),
      );
    });
    const [spec] = parseStrict(toYaml(definition, compilePipeline(definition, OPTIONS)));
    const container = (spec as { deploymentSpec: { executors: Record<string, { container: Record<string, unknown> }> } }).deploymentSpec
      .executors['exec-trainer']!.container;
    assert.deepEqual(container['resources'], {
      accelerator: { count: '1', resourceCount: '1', resourceType: 'tpu-v3', type: 'tpu-v3' },
      cpuLimit: 4.0,
      cpuRequest: 2.0,
      memoryLimit: 15.032385536,
      memoryRequest: 4.294967296,
      resourceCpuLimit: '4',
      resourceCpuRequest: '2',
      resourceMemoryLimit: '14Gi',
      resourceMemoryRequest: '4Gi',
    });
    assert.deepEqual(container['env'], [
      { name: 'ENV1', value: 'val0' },
      { name: 'ENV2', value: 'val2' },
    ]);
    const root = (spec as { root: { dag: { tasks: Record<string, Record<string, unknown>> } } }).root.dag.tasks;
    assert.deepEqual(root['trainer']?.['retryPolicy'], {
      backoffDuration: '0s',
      backoffFactor: 2.0,
      backoffMaxDuration: '3600s',
      maxRetryCount: 3,
    });
    assert.deepEqual(root['trainer']?.['inputs'], { parameters: { status: { taskFinalStatus: { producerTask: 'exit-handler-1' } } } });
    const definitions = (spec as { components: Record<string, { inputDefinitions?: unknown }> }).components['comp-trainer']
      ?.inputDefinitions;
    assert.deepEqual(definitions, { parameters: { status: { isOptional: true, parameterType: 'TASK_FINAL_STATUS' } } });
  });

  it('refuses quantities Kubernetes would refuse', () => {
    const bad = component({
      name: 'bad',
      image: 'b',
      command: ['b'],
      inputs: {},
      outputs: {},
      args: () => [],
      resources: { memory: '4 GB' },
    });
    assert.throws(
      () =>
        compilePipeline(
          pipeline({ name: 'bad', inputs: {} }, () => void bad({})),
          OPTIONS,
        ),
      /'4 GB' is not a memory quantity/,
    );
  });
});

describe('wiring errors name the task and the input', () => {
  const makeData = op('make-data', {}, { data: artifact.dataset(), count: param.integer(), ok: param.boolean() });
  const fit = op('fit', { data: artifact.dataset(), epochs: param.integer({ default: 3 }) }, { model: artifact.model() });
  const use = op('use', { model: artifact.model(), note: param.string({ default: '' }) }, {});
  const compile = (body: () => void) => compilePipeline(pipeline({ name: 'wiring', inputs: {} }, body), OPTIONS);

  it('rejects an unknown input, a missing required input and a constant of the wrong type', () => {
    assert.throws(
      () => compile(() => void fit({ data: makeData({}).outputs.data, epochz: 3 } as never)),
      /pipeline wiring, task 'fit': unknown input 'epochz' \(component fit takes: data, epochs\)/,
    );
    assert.throws(() => compile(() => void fit({} as never)), /task 'fit': missing required input 'data'/);
    assert.throws(
      () => compile(() => void fit({ data: makeData({}).outputs.data, epochs: 'ten' as never })),
      /task 'fit', input 'epochs': expects NUMBER_INTEGER, got string "ten"/,
    );
    assert.throws(
      () => compile(() => void fit({ data: makeData({}).outputs.data, epochs: 2.5 })),
      /task 'fit', input 'epochs': expects NUMBER_INTEGER, got number 2.5/,
    );
  });

  it('rejects an artifact of another type, and a parameter where an artifact goes (also at compile time)', () => {
    assert.throws(
      () =>
        compile(() => {
          const made = makeData({});
          // @ts-expect-error a Dataset does not wire into a Model input
          use({ model: made.outputs.data });
        }),
      /task 'use', input 'model': expects system.Model, got system.Dataset/,
    );
    assert.throws(
      () =>
        compile(() => {
          const made = makeData({});
          // @ts-expect-error an integer output does not wire into a string input
          use({ model: fit({ data: made.outputs.data }).outputs.model, note: made.outputs.count });
        }),
      /task 'use', input 'note': expects STRING, got a NUMBER_INTEGER reference/,
    );
  });

  it('rejects reading an output from inside a condition the reader is not in', () => {
    assert.throws(
      () =>
        compile(() => {
          const made = makeData({});
          let trained: ReturnType<typeof fit> | undefined;
          when(made.outputs.ok, () => {
            trained = fit({ data: made.outputs.data });
          });
          use({ model: trained!.outputs.model });
        }),
      /task 'use', input 'model': 'fit' runs inside condition-1, which 'use' is not part of/,
    );
  });

  it('rejects a dependency cycle made with after()', () => {
    assert.throws(
      () =>
        compile(() => {
          const made = makeData({});
          const first = fit({ data: made.outputs.data });
          const second = fit({ data: made.outputs.data }).after(first);
          first.after(second);
        }),
      (error: unknown) => error instanceof PipelineCompileError && /dependency cycle: fit(-2)? -> fit(-2)? -> fit(-2)?/.test(error.message),
    );
  });

  it('compiles the same pipeline to the same bytes', () => {
    const definition = pipeline({ name: 'same', inputs: { n: param.integer({ default: 2 }) } }, () => {
      const made = makeData({});
      when(made.outputs.ok, () => void use({ model: fit({ data: made.outputs.data }).outputs.model }));
    });
    const a = toYaml(definition, compilePipeline(definition, OPTIONS));
    const b = toYaml(definition, compilePipeline(definition, OPTIONS));
    assert.equal(a, b);
    assert.match(a, /condition: inputs\.parameter_values\['pipelinechannel--make-data-ok'\] == true/);
    assert.match(a, /componentInputArtifact: pipelinechannel--make-data-data/);
  });
});
