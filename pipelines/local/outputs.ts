/** What a finished task wrote: its output parameters' files, and its executor output (artifact metadata). */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** The part of KFP's ExecutorOutput (protojson) the launcher merges into output artifacts: their metadata. */
const ExecutorOutput = z.object({
  artifacts: z
    .record(z.string(), z.object({ artifacts: z.array(z.object({ metadata: z.record(z.string(), z.unknown()).optional() })) }))
    .optional(),
});

/**
 * The artifact metadata a task wrote as KFP's executor output, by output name; undefined when it wrote
 * none (KFP's launcher treats a missing file as an empty output); an error message when the file is
 * not an ExecutorOutput, which the launcher would refuse too.
 */
export async function readExecutorOutput(
  file: string,
  taskPath: string,
): Promise<Record<string, Record<string, unknown>> | undefined | string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let parsed: ReturnType<typeof ExecutorOutput.safeParse>;
  try {
    parsed = ExecutorOutput.safeParse(JSON.parse(text));
  } catch {
    return `${taskPath} wrote an executor output that is not JSON (${file})`;
  }
  if (!parsed.success)
    return `${taskPath} wrote an executor output that is not a KFP ExecutorOutput (${file}): ${parsed.error.issues[0]?.message}`;
  return Object.fromEntries(Object.entries(parsed.data.artifacts ?? {}).map(([name, list]) => [name, list.artifacts[0]?.metadata ?? {}]));
}

/** An output parameter's file as the value of its declared type. */
export function parseParameter(text: string, type: string): unknown {
  const trimmed = text.trim();
  switch (type) {
    case 'NUMBER_INTEGER':
    case 'NUMBER_DOUBLE':
      return Number(trimmed);
    case 'BOOLEAN':
      return trimmed === 'true' || trimmed === 'True' || trimmed === '1';
    case 'STRUCT':
    case 'LIST':
      return JSON.parse(trimmed) as unknown;
    default:
      return text;
  }
}
