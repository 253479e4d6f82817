/**
 * The part of autocannon's API the benchmarks use (it ships no types, and none are installed), loaded
 * when asked for: a benchmark's server role never needs it.
 */
import { createRequire } from 'node:module';

export interface AutocannonResult {
  duration: number;
  requests: { total: number };
  latency: { p50: number; p99: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

export type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  timeout: number;
  requests: { setupRequest: (request: Record<string, unknown>) => Record<string, unknown> }[];
}) => Promise<AutocannonResult>;

export const loadAutocannon = (): Autocannon => createRequire(import.meta.url)('autocannon') as Autocannon;
