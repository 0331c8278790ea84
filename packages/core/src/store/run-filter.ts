/**
 * Run filters in MLflow's search syntax (`search_runs(filter_string=...)`):
 *
 *   metrics.val/acc > 0.9 and params.lr = '0.01' and tags.team = 'ml'
 *
 * Comparisons joined by `and` (MLflow has no `or`). The left side is
 * `metrics.<key>`, `params.<key>`, `tags.<key>` or `attributes.<name>`
 * (`status`, `name`, `experiment`, `uid`, `start_time`, `end_time`; also
 * `run_name`, `run_id` as MLflow calls them); `metric`, `param`, `tag`,
 * `attribute` and `attr` work too. A key with characters beyond letters,
 * digits and `_ / . - :` is quoted with backticks or double quotes. Metrics
 * compare with numbers (`=`, `!=`, `<`, `<=`, `>`, `>=`); params, tags and
 * text attributes with quoted strings (`=`, `!=`, `LIKE`, `ILIKE` with `%`
 * and `_` wildcards, `IN (...)`, `NOT IN (...)`); times with numbers (epoch
 * ms). A run without the key does not match.
 */
import { TrackstackError } from '../contract/errors.js';

type Entity = 'metrics' | 'params' | 'tags' | 'attributes';
type Operator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN';

export interface RunFilterClause {
  entity: Entity;
  key: string;
  op: Operator;
  value: number | string | string[];
}

/** What a filter is checked against: a run's latest metrics, params, tags and attributes. */
export interface FilterableRun {
  metrics: Record<string, number>;
  params: Record<string, string>;
  tags: Record<string, string>;
  uid: string;
  name: string;
  experiment: string;
  status: string;
  startTime: number;
  endTime: number | undefined;
}

const ENTITIES: Record<string, Entity> = {
  metrics: 'metrics',
  metric: 'metrics',
  params: 'params',
  param: 'params',
  parameters: 'params',
  tags: 'tags',
  tag: 'tags',
  attributes: 'attributes',
  attribute: 'attributes',
  attr: 'attributes',
  run: 'attributes',
};

const ATTRIBUTES: Record<string, 'text' | 'time'> = {
  status: 'text',
  name: 'text',
  run_name: 'text',
  experiment: 'text',
  uid: 'text',
  run_id: 'text',
  start_time: 'time',
  end_time: 'time',
};

type Token =
  | { kind: 'word'; text: string; at: number }
  | { kind: 'quoted'; text: string; quote: string; at: number }
  | { kind: 'number'; value: number; at: number }
  | { kind: 'op'; text: string; at: number }
  | { kind: 'punct'; text: '(' | ')' | ','; at: number };

function fail(text: string, at: number, message: string): never {
  throw new TrackstackError(
    'INVALID_FILTER',
    `filter ${JSON.stringify(text)} at ${at + 1}: ${message}`,
    {
      hint: "write comparisons joined by `and`, e.g. metrics.acc > 0.9 and params.lr = '0.01'",
    },
  );
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      let out = '';
      for (;;) {
        if (j >= text.length) fail(text, i, `the ${c} quote is not closed`);
        if (text[j] === c) {
          if (text[j + 1] === c) {
            out += c;
            j += 2;
            continue;
          }
          break;
        }
        out += text[j];
        j += 1;
      }
      tokens.push({ kind: 'quoted', text: out, quote: c, at: i });
      i = j + 1;
      continue;
    }
    const op = /^(<=|>=|!=|<>|==|=|<|>)/.exec(text.slice(i));
    if (op !== null) {
      tokens.push({
        kind: 'op',
        text: op[1] === '<>' ? '!=' : op[1] === '==' ? '=' : op[1]!,
        at: i,
      });
      i += op[1]!.length;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', text: c, at: i });
      i += 1;
      continue;
    }
    const number = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(?![\w/.:-])/.exec(text.slice(i));
    if (number !== null) {
      tokens.push({ kind: 'number', value: Number(number[0]), at: i });
      i += number[0].length;
      continue;
    }
    const word = /^[A-Za-z0-9_/.:-]+/.exec(text.slice(i));
    if (word === null) fail(text, i, `unexpected ${JSON.stringify(c)}`);
    tokens.push({ kind: 'word', text: word[0], at: i });
    i += word[0].length;
  }
  return tokens;
}

/** Parses a filter; throws INVALID_FILTER saying where and why. An empty filter matches every run. */
export function parseRunFilter(text: string): RunFilterClause[] {
  const tokens = tokenize(text);
  const clauses: RunFilterClause[] = [];
  let i = 0;
  const end = text.length;
  const next = () => tokens[i];
  while (i < tokens.length) {
    if (clauses.length > 0) {
      const and = next();
      if (and?.kind !== 'word' || and.text.toLowerCase() !== 'and') {
        fail(text, and?.at ?? end, 'comparisons are joined by `and` (MLflow has no `or`)');
      }
      i += 1;
    }
    const left = next();
    if (left === undefined) fail(text, end, 'a comparison is missing after `and`');
    let entityName: string;
    let key: string;
    if (left.kind === 'word' && left.text.includes('.')) {
      const dot = left.text.indexOf('.');
      entityName = left.text.slice(0, dot);
      key = left.text.slice(dot + 1);
      i += 1;
      if (key === '') {
        const quoted = next();
        if (quoted?.kind !== 'quoted' || quoted.quote === "'") {
          fail(
            text,
            quoted?.at ?? end,
            'a key after the dot, or one in backticks or double quotes',
          );
        }
        key = quoted.text;
        i += 1;
      }
    } else {
      fail(
        text,
        left.at,
        'each comparison starts with metrics.<key>, params.<key>, tags.<key> or attributes.<name>',
      );
    }
    const entity = ENTITIES[entityName.toLowerCase()];
    if (entity === undefined) {
      fail(
        text,
        left.at,
        `${JSON.stringify(entityName)} is not metrics, params, tags or attributes`,
      );
    }
    if (entity === 'attributes' && ATTRIBUTES[key] === undefined) {
      fail(
        text,
        left.at,
        `no attribute ${JSON.stringify(key)} (${Object.keys(ATTRIBUTES).join(', ')})`,
      );
    }
    const opToken = next();
    let op: Operator;
    if (opToken?.kind === 'op') {
      op = opToken.text as Operator;
      i += 1;
    } else if (opToken?.kind === 'word') {
      const word = opToken.text.toUpperCase();
      if (word === 'NOT') {
        const inToken = tokens[i + 1];
        if (inToken?.kind !== 'word' || inToken.text.toUpperCase() !== 'IN') {
          fail(text, opToken.at, 'NOT goes with IN');
        }
        op = 'NOT IN';
        i += 2;
      } else if (word === 'LIKE' || word === 'ILIKE' || word === 'IN') {
        op = word;
        i += 1;
      } else {
        fail(text, opToken.at, `${JSON.stringify(opToken.text)} is not a comparison`);
      }
    } else {
      fail(text, opToken?.at ?? end, 'a comparison (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)');
    }
    const numeric = entity === 'metrics' || (entity === 'attributes' && ATTRIBUTES[key] === 'time');
    let value: number | string | string[];
    if (op === 'IN' || op === 'NOT IN') {
      if (numeric) fail(text, opToken.at, `${op} compares text, not numbers`);
      if (next()?.kind !== 'punct' || (next() as { text: string }).text !== '(') {
        fail(text, next()?.at ?? end, `${op} takes a list: ('a', 'b')`);
      }
      i += 1;
      const list: string[] = [];
      for (;;) {
        const item = next();
        if (item?.kind !== 'quoted' || (item.quote !== "'" && item.quote !== '"')) {
          fail(text, item?.at ?? end, 'the list holds quoted strings');
        }
        list.push(item.text);
        i += 1;
        const sep = next();
        if (sep?.kind === 'punct' && sep.text === ',') {
          i += 1;
          continue;
        }
        if (sep?.kind === 'punct' && sep.text === ')') {
          i += 1;
          break;
        }
        fail(text, sep?.at ?? end, 'a comma or the closing parenthesis');
      }
      value = list;
    } else {
      const token = next();
      if (numeric) {
        if (token?.kind !== 'number')
          fail(
            text,
            token?.at ?? end,
            `${entity === 'metrics' ? 'metrics' : key} compare with a number`,
          );
        if (op === 'LIKE' || op === 'ILIKE')
          fail(text, opToken.at, `${op} compares text, not numbers`);
        value = token.value;
      } else {
        if (token?.kind !== 'quoted' || token.quote === '`') {
          fail(text, token?.at ?? end, `${entity} compare with a quoted string, e.g. '0.01'`);
        }
        if (op === '<' || op === '<=' || op === '>' || op === '>=') {
          fail(text, opToken.at, `${entity} compare with =, !=, LIKE, ILIKE, IN or NOT IN`);
        }
        value = token.text;
      }
      i += 1;
    }
    clauses.push({ entity, key, op, value });
  }
  return clauses;
}

function likePattern(pattern: string, flags: string): RegExp {
  let source = '';
  for (const c of pattern) {
    source += c === '%' ? '.*' : c === '_' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, `s${flags}`);
}

function attribute(run: FilterableRun, name: string): string | number | undefined {
  switch (name) {
    case 'status':
      return run.status;
    case 'name':
    case 'run_name':
      return run.name;
    case 'experiment':
      return run.experiment;
    case 'uid':
    case 'run_id':
      return run.uid;
    case 'start_time':
      return run.startTime;
    case 'end_time':
      return run.endTime;
    default:
      return undefined;
  }
}

/** Whether a run satisfies every clause. */
export function matchesRunFilter(clauses: readonly RunFilterClause[], run: FilterableRun): boolean {
  return clauses.every((clause) => matchesClause(clause, run));
}

function matchesClause(clause: RunFilterClause, run: FilterableRun): boolean {
  const held =
    clause.entity === 'metrics'
      ? run.metrics[clause.key]
      : clause.entity === 'params'
        ? run.params[clause.key]
        : clause.entity === 'tags'
          ? run.tags[clause.key]
          : attribute(run, clause.key);
  if (held === undefined) return false;
  const { op, value } = clause;
  switch (op) {
    case '=':
      return held === value;
    case '!=':
      return held !== value;
    case '<':
      return (held as number) < (value as number);
    case '<=':
      return (held as number) <= (value as number);
    case '>':
      return (held as number) > (value as number);
    case '>=':
      return (held as number) >= (value as number);
    case 'LIKE':
      return likePattern(value as string, '').test(String(held));
    case 'ILIKE':
      return likePattern(value as string, 'i').test(String(held));
    case 'IN':
      return (value as string[]).includes(String(held));
    case 'NOT IN':
      return !(value as string[]).includes(String(held));
  }
}
