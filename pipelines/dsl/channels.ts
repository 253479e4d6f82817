/**
 * What a task's inputs accept and what its outputs become, per declared spec: a constant of the
 * parameter's type or a reference of the same type in; typed references out.
 */
import type { ArtifactRef, ParameterRef } from './graph.js';
import type { ArtifactSpec, IOSpec, IOSpecs, ParameterSpec, ParameterValues } from './io.js';

/** What an input of a given spec accepts: a constant or a reference of the same type. */
export type InputValue<Spec extends IOSpec> =
  Spec extends ParameterSpec<infer T>
    ? T extends 'TASK_FINAL_STATUS'
      ? never
      : ParameterValues[T] | ParameterRef<T>
    : Spec extends ArtifactSpec<infer S>
      ? ArtifactRef<S>
      : never;

/** Inputs with a default may be left out; those without must be given. */
type RequiredKeys<Specs extends IOSpecs> = {
  [K in keyof Specs]: Specs[K] extends ParameterSpec<infer T>
    ? T extends 'TASK_FINAL_STATUS'
      ? never
      : Specs[K] extends { default: unknown }
        ? never
        : K
    : K;
}[keyof Specs];

type StatusKeys<Specs extends IOSpecs> = {
  [K in keyof Specs]: Specs[K] extends ParameterSpec<'TASK_FINAL_STATUS'> ? K : never;
}[keyof Specs];

export type TaskInputs<Specs extends IOSpecs> = {
  [K in Exclude<RequiredKeys<Specs>, StatusKeys<Specs>>]: InputValue<Specs[K]>;
} & {
  [K in Exclude<keyof Specs, RequiredKeys<Specs> | StatusKeys<Specs>>]?: InputValue<Specs[K]>;
};

/** The references a task's outputs become. */
export type TaskOutputs<Specs extends IOSpecs> = {
  readonly [K in keyof Specs]: Specs[K] extends ParameterSpec<infer T>
    ? ParameterRef<T>
    : Specs[K] extends ArtifactSpec<infer S>
      ? ArtifactRef<S>
      : never;
};
