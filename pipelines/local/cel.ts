/**
 * The conditions of a compiled spec (`triggerPolicy.condition`) are CEL; this evaluates the subset
 * the compiler (and the KFP SDK for conditions like ours) writes: comparisons of
 * `inputs.parameter_values['x']` (optionally in `int(…)` or `double(…)`) with literals or other
 * parameters, `==` `!=` `<` `<=` `>` `>=`, joined by `&&`, optionally negated with `!(…)`.
 * Anything else fails loudly rather than being guessed at.
 */

type Value = string | number | boolean | null;

export function evaluateCondition(condition: string, parameters: Readonly<Record<string, unknown>>): boolean {
  const text = condition.trim();
  const negated = /^!\((.*)\)$/s.exec(text);
  if (negated?.[1] !== undefined) return !evaluateCondition(negated[1], parameters);
  return splitTopLevel(text, '&&').every((part) => comparison(part.trim(), parameters, condition));
}

function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'" && text[i - 1] !== '\\') quoted = !quoted;
    if (quoted) continue;
    if (c === '(' || c === '[') depth++;
    if (c === ')' || c === ']') depth--;
    if (depth === 0 && text.startsWith(separator, i)) {
      parts.push(text.slice(start, i));
      start = i + separator.length;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

const OPERATORS = ['==', '!=', '<=', '>=', '<', '>'] as const;

function comparison(text: string, parameters: Readonly<Record<string, unknown>>, whole: string): boolean {
  const unwrapped = /^!\((.*)\)$/s.exec(text);
  if (unwrapped?.[1] !== undefined) return !evaluateCondition(unwrapped[1], parameters);
  for (const op of OPERATORS) {
    const parts = splitTopLevel(text, ` ${op} `);
    if (parts.length !== 2) continue;
    const left = operand(parts[0]!.trim(), parameters, whole);
    const right = operand(parts[1]!.trim(), parameters, whole);
    switch (op) {
      case '==':
        return left === right;
      case '!=':
        return left !== right;
      case '<':
        return (left as number) < (right as number);
      case '<=':
        return (left as number) <= (right as number);
      case '>':
        return (left as number) > (right as number);
      case '>=':
        return (left as number) >= (right as number);
    }
  }
  throw new Error(`unsupported condition '${whole}' (near '${text}')`);
}

function operand(text: string, parameters: Readonly<Record<string, unknown>>, whole: string): Value {
  const cast = /^(int|double)\((.*)\)$/s.exec(text);
  if (cast?.[2] !== undefined) return Number(operand(cast[2], parameters, whole));
  const parameter = /^inputs\.parameter_values\['([^']+)'\]$/.exec(text);
  if (parameter?.[1] !== undefined) {
    if (!(parameter[1] in parameters)) throw new Error(`condition '${whole}' reads '${parameter[1]}', which the task was not given`);
    return parameters[parameter[1]] as Value;
  }
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null') return null;
  const string = /^'((?:[^'\\]|\\.)*)'$/s.exec(text);
  if (string?.[1] !== undefined) return string[1].replace(/\\'/g, "'");
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) return Number(text);
  throw new Error(`unsupported operand '${text}' in condition '${whole}'`);
}
