// lm-evaluation-harness's response filters for generate_until tasks: a filter_list entry is a named pipeline of
// functions applied to a document's responses (one per repeat) — regex (findall, group_select, fallback),
// take_first, remove_whitespace (strip), lowercase, uppercase, map — and the results are keyed "<metric>,<name>".
// Without a filter_list the pipeline is "none": take_first.

export type Responses = string[] | string;

export interface FilterStep {
  function: string;
  [arg: string]: unknown;
}

export interface FilterPipeline {
  name: string;
  filter: FilterStep[];
}

export const NO_FILTER: FilterPipeline = { name: 'none', filter: [{ function: 'take_first' }] };

/** Python's re syntax → JavaScript's, for the constructs harness patterns use ((?P<name>…), (?P=name), \Z, \A). */
export function pythonRegex(pattern: string, flags = ''): RegExp {
  const js = pattern
    .replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, '\\k<$1>')
    .replace(/\\Z/g, '$(?![\\s\\S])')
    .replace(/\\A/g, '^(?<![\\s\\S])');
  try {
    return new RegExp(js, flags.includes('g') ? flags : `${flags}g`);
  } catch (err) {
    throw new Error(`regex filter: pattern ${JSON.stringify(pattern)} is not a valid regular expression here (${(err as Error).message})`);
  }
}

/** Python re.findall: whole matches without groups, the group with one, tuples (arrays) with several. */
function findall(re: RegExp, text: string): (string | string[])[] {
  const out: (string | string[])[] = [];
  for (const m of text.matchAll(re)) {
    if (m.length === 1) out.push(m[0]);
    else if (m.length === 2) out.push(m[1] ?? '');
    else out.push(m.slice(1).map((g) => g ?? ''));
  }
  return out;
}

function regexFilter(step: FilterStep): (r: string) => string {
  const pattern = typeof step.regex_pattern === 'string' ? step.regex_pattern : '#### (\\-?[0-9\\.\\,]+)';
  const groupSelect = step.group_select === undefined ? 0 : Number(step.group_select);
  if (!Number.isInteger(groupSelect)) throw new Error(`regex filter: group_select must be an integer, got ${String(step.group_select)}`);
  const fallback = step.fallback === undefined ? '[invalid]' : String(step.fallback);
  const re = pythonRegex(pattern);
  return (resp) => {
    const matches = findall(re, typeof resp === 'string' ? resp : '');
    if (matches.length === 0) return fallback;
    const i = groupSelect < 0 ? matches.length + groupSelect : groupSelect;
    let m = matches[i];
    if (m === undefined) throw new Error(`regex filter: group_select ${groupSelect} is out of range for ${matches.length} matches of ${JSON.stringify(pattern)}`);
    if (Array.isArray(m)) m = m.find((g) => g !== '') ?? fallback;
    return m.trim();
  };
}

const PY_WHITESPACE = /^[\s\u001c-\u001f\u0085]+|[\s\u001c-\u001f\u0085]+$/g;

/** Apply one pipeline to one document's responses. */
export function applyPipeline(p: FilterPipeline, responses: string[]): Responses {
  let cur: Responses = responses;
  for (const step of p.filter) {
    const each = (f: (r: string) => string): Responses => (Array.isArray(cur) ? cur.map(f) : f(cur));
    switch (step.function) {
      case 'take_first':
        cur = Array.isArray(cur) ? (cur[0] ?? '') : cur;
        break;
      case 'take_first_k': {
        const k = Number(step.k);
        if (!Number.isInteger(k) || k < 1) throw new Error(`take_first_k filter: k must be a positive integer, got ${String(step.k)}`);
        cur = Array.isArray(cur) ? cur.slice(0, k) : cur;
        break;
      }
      case 'regex':
        cur = each(regexFilter(step));
        break;
      case 'remove_whitespace':
        cur = each((r) => r.replace(PY_WHITESPACE, ''));
        break;
      case 'lowercase':
        cur = each((r) => r.toLowerCase());
        break;
      case 'uppercase':
        cur = each((r) => r.toUpperCase());
        break;
      case 'map': {
        const dict = (step.mapping_dict ?? {}) as Record<string, unknown>;
        const dflt = step.default_value;
        cur = each((r) => (Object.hasOwn(dict, r) ? String(dict[r]) : dflt === undefined || dflt === null ? r : String(dflt)));
        break;
      }
      default:
        throw new Error(`filter '${p.name}': function '${step.function}' is not supported (supported: regex, take_first, take_first_k, remove_whitespace, lowercase, uppercase, map)`);
    }
  }
  return cur;
}

/** Validate a task's filter_list (throws naming the task and the filter). */
export function checkPipelines(task: string, pipelines: readonly FilterPipeline[]): void {
  for (const p of pipelines) {
    if (typeof p.name !== 'string' || !Array.isArray(p.filter)) throw new Error(`task '${task}': every filter_list entry needs a name and a filter list`);
    try {
      applyPipeline(p, ['probe']);
    } catch (err) {
      throw new Error(`task '${task}': ${(err as Error).message}`);
    }
  }
}
