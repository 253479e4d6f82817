/** `parallelFor`: a body run once per item of a list (the KFP SDK's dsl.ParallelFor). */
import { builder, inGroup } from './context.js';
import type { LoopGroupNode, ParameterRef } from './graph.js';
import type { ParameterType } from './io.js';

type ItemType<Items> = Items extends readonly number[] ? 'NUMBER_INTEGER' : Items extends readonly string[] ? 'STRING' : ParameterType;

/**
 * Runs `body` once per item (`dsl.ParallelFor`), at most `parallelism` at a time: over a constant
 * list, a LIST pipeline input or a LIST task output. Compiled to a KFP `parameterIterator`.
 */
export function parallelFor<Items extends readonly unknown[] | ParameterRef<'LIST'>>(
  items: Items,
  body: (item: ParameterRef<Items extends readonly unknown[] ? ItemType<Items> : 'STRING'>) => void,
  options: { parallelism?: number } = {},
): { node: LoopGroupNode } {
  const b = builder('parallelFor()');
  const raw = Array.isArray(items);
  const itemNumber = raw ? ++b.counter : undefined;
  const group: LoopGroupNode = {
    kind: 'loop',
    name: `for-loop-${++b.counter}`,
    parent: b.current,
    children: [],
    items: items as LoopGroupNode['items'],
    parallelism: options.parallelism,
  };
  if (itemNumber !== undefined) b.graph.loopItemNames.set(group, `pipelinechannel--loop-item-param-${itemNumber}`);
  const itemType = raw ? (items.every((i) => typeof i === 'number' && Number.isInteger(i)) ? 'NUMBER_INTEGER' : 'STRING') : 'STRING';
  const item = { kind: 'parameter-ref', type: itemType, source: { from: 'loop-item', loop: group } } as const;
  return { node: inGroup(b, group, () => body(item as never)) };
}
