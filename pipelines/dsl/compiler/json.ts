/** The IR as plain JSON objects, and the one rule for what the SDK leaves out of them. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
/** Values left undefined are omitted from the YAML. */
export type JsonObject = { [key: string]: Json | undefined };

/**
 * `fields` without the entries that are undefined, an empty object or an empty list: the KFP SDK
 * writes no `inputs: {}` or `dependentTasks: []`. (Where it does write an empty object, such as
 * `cachingOptions: {}`, the caller sets the field itself.) Key order is kept.
 */
export function omitEmpty(fields: { readonly [key: string]: Json | undefined }): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value) ? value.length === 0 : typeof value === 'object' && Object.keys(value).length === 0) continue;
    out[key] = value;
  }
  return out;
}
