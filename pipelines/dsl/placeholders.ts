/**
 * KFP's command-line placeholders: the strings the backend replaces when it launches a task (an
 * input parameter's value, an artifact's local path, an output parameter's file), and the run's id.
 */

/**
 * The run's id, as a constant the backend fills (KFP SDK `dsl.PIPELINE_JOB_ID_PLACEHOLDER`; 2.17's
 * driver replaces it in a runtime constant, resolve.go). Used as an input's default, the compiler binds it.
 */
export const PIPELINE_JOB_ID = '{{$.pipeline_job_uuid}}';

export const inputPlaceholder = (name: string, kind: 'parameter' | 'artifact') =>
  kind === 'artifact' ? `{{$.inputs.artifacts['${name}'].path}}` : `{{$.inputs.parameters['${name}']}}`;

export const outputPlaceholder = (name: string, kind: 'parameter' | 'artifact') =>
  kind === 'artifact' ? `{{$.outputs.artifacts['${name}'].path}}` : `{{$.outputs.parameters['${name}'].output_file}}`;
