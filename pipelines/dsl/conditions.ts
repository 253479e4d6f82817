/** Conditions: `when(flag, …)`, `when(eq(ref, 'x'), …).otherwise(…)` (the KFP SDK's dsl.If / dsl.Else). */
import { builder, inGroup, isRecording } from './context.js';
import type { Comparison, ConditionBranchesGroupNode, ConditionGroupNode, ParameterRef } from './graph.js';
import type { ParameterType } from './io.js';

/** `eq(ref, 'heads')`, `ne(ref, 0)`: a condition on a parameter's value. */
export function eq<T extends ParameterType>(ref: ParameterRef<T>, value: string | number | boolean): Comparison {
  return { kind: 'comparison', ref, op: '==', value };
}
export function ne<T extends ParameterType>(ref: ParameterRef<T>, value: string | number | boolean): Comparison {
  return { kind: 'comparison', ref, op: '!=', value };
}

export interface Conditional {
  node: ConditionGroupNode;
  /**
   * Runs the tasks of `body` only when the condition does not hold (`dsl.Else`). Must follow its
   * `when` directly. Compiled as the SDK compiles If/Else: both branches inside a
   * `condition-branches-N` group (which takes the `when`'s number; the `when` is renumbered after its
   * own body), the second with the negated condition `!(…)`.
   */
  otherwise(body: () => void): { node: ConditionGroupNode };
}

/** Runs the tasks of `body` only when `condition` holds at run time (`dsl.If`): a boolean, or eq/ne. */
export function when(condition: ParameterRef<'BOOLEAN'> | Comparison, body: () => void): Conditional {
  const b = builder('when()');
  const group: ConditionGroupNode = {
    kind: 'condition',
    name: `condition-${++b.counter}`,
    parent: b.current,
    children: [],
    condition,
    negated: false,
  };
  inGroup(b, group, body);
  let branched = false;
  return {
    node: group,
    otherwise(elseBody) {
      const parent = group.parent;
      if (!isRecording(b) || !parent || b.current !== parent || parent.children.at(-1) !== group) {
        throw new Error(`otherwise() must follow its when() (${group.name}) directly, in the same pipeline function and group`);
      }
      if (branched) throw new Error(`${group.name} already has an otherwise() branch`);
      branched = true;
      const branches: ConditionBranchesGroupNode = {
        kind: 'condition-branches',
        name: group.name.replace(/^condition-/, 'condition-branches-'),
        parent,
        children: [group],
      };
      group.name = `condition-${++b.counter}`;
      group.parent = branches;
      parent.children[parent.children.length - 1] = branches;
      b.graph.groups.push(branches);
      const negated: ConditionGroupNode = {
        kind: 'condition',
        name: `condition-${++b.counter}`,
        parent: branches,
        children: [],
        condition,
        negated: true,
      };
      b.current = branches;
      try {
        inGroup(b, negated, elseBody);
      } finally {
        b.current = parent;
      }
      return { node: negated };
    },
  };
}
