/**
 * Checkpoints under `checkpoints/<model version>/` in the artifact store, so a training run that
 * crashed (a preempted spot node, an OOM kill) resumes at its last finished epoch: the model weights
 * and Adam's moments of the last epoch, the best weights so far, and the history. The weight files are
 * written first under epoch-numbered names and `state.json`, naming them, last: a crash between the two
 * leaves the previous checkpoint intact.
 */
import type * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { NotFoundError, type ArtifactStore } from '../core/platform/index.js';
import type { EpochRecord } from './history.js';
import { decodeTensors, encodeTensors } from './tensor-file.js';

const State = z.object({
  epoch: z.number().int(),
  bestEpoch: z.number().int(),
  bestLoss: z.number(),
  history: z.array(z.custom<EpochRecord>()),
  lastFile: z.string(),
  bestFile: z.string().nullable(),
  /** How many tensors of lastFile are model weights; the rest are the optimizer's. */
  weightCount: z.number().int(),
});

export interface CheckpointState {
  epoch: number;
  bestEpoch: number;
  bestLoss: number;
  history: EpochRecord[];
}

export interface Checkpoints {
  load(): Promise<{ state: CheckpointState; weights: tf.Tensor[]; optimizer: tf.Tensor[]; best: tf.Tensor[] | null } | null>;
  save(checkpoint: {
    state: CheckpointState;
    weights: readonly tf.Tensor[];
    optimizer: readonly tf.Tensor[];
    best: readonly tf.Tensor[] | null;
    bestChanged: boolean;
  }): Promise<void>;
  /** Removes the checkpoint once the model is published. */
  clear(): Promise<void>;
}

export function storeCheckpoints(store: ArtifactStore, version: string): Checkpoints {
  const prefix = `checkpoints/${version}`;
  const stateKey = `${prefix}/state.json`;
  let current: z.infer<typeof State> | null = null;
  return {
    async load() {
      try {
        current = State.parse(JSON.parse((await store.get(stateKey)).toString('utf8')));
      } catch (error) {
        if (error instanceof NotFoundError) return null;
        throw error;
      }
      const last = decodeTensors(await store.get(`${prefix}/${current.lastFile}`));
      const best = current.bestFile ? decodeTensors(await store.get(`${prefix}/${current.bestFile}`)) : null;
      return { state: current, weights: last.slice(0, current.weightCount), optimizer: last.slice(current.weightCount), best };
    },
    async save({ state, weights, optimizer, best, bestChanged }) {
      const lastFile = `last-${state.epoch}.bin`;
      await store.put(`${prefix}/${lastFile}`, await encodeTensors([...weights, ...optimizer]));
      let bestFile = current?.bestFile ?? null;
      if (best && (bestChanged || !bestFile)) {
        bestFile = `best-${state.epoch}.bin`;
        await store.put(`${prefix}/${bestFile}`, await encodeTensors(best));
      }
      const previous = current;
      current = { ...state, lastFile, bestFile, weightCount: weights.length };
      await store.put(stateKey, JSON.stringify(current));
      if (previous && previous.lastFile !== lastFile) await store.delete(`${prefix}/${previous.lastFile}`);
      if (previous?.bestFile && previous.bestFile !== bestFile) await store.delete(`${prefix}/${previous.bestFile}`);
    },
    async clear() {
      for await (const object of store.list(`${prefix}/`)) await store.delete(object.key);
      current = null;
    },
  };
}
