// Strict JSON for files people write by hand. JSON.parse alone does not say
// where some errors are (Node 20 omits the position for an unexpected token)
// and silently keeps the last of two equal keys; this recogniser finds both,
// then JSON.parse builds the value from text already known to be valid.

export type JsonResult = { ok: true; value: unknown } | { ok: false; line: number; column: number; reason: string };

/** Deeper nesting is refused rather than risking the recogniser's stack. */
export const MAX_JSON_DEPTH = 64;

class SyntaxAt {
  constructor(readonly offset: number, readonly reason: string) {}
}

const NUMBER = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const LITERAL = /true|false|null/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

export function parseJson(text: string): JsonResult {
  let i = 0;
  const fail = (reason: string, at = i): never => {
    throw new SyntaxAt(at, reason);
  };
  const found = (): string => (i >= text.length ? 'found the end of the file' : `found ${JSON.stringify(text[i])}`);
  const space = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const sticky = (re: RegExp): boolean => {
    re.lastIndex = i;
    if (!re.test(text)) return false;
    i = re.lastIndex;
    return true;
  };
  const string = (): string => {
    const start = i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) return JSON.parse(text.slice(start, ++i)) as string;
      if (c < 0x20) fail('control character in a string (write it as an escape such as \\n)');
      if (c !== 0x5c) {
        i++;
      } else if (text[i + 1] === 'u') {
        if (!HEX4.test(text.slice(i + 2, i + 6))) fail('\\u must be followed by 4 hex digits');
        i += 6;
      } else if (text[i + 1] !== undefined && '"\\/bfnrt'.includes(text[i + 1])) {
        i += 2;
      } else {
        fail('unknown escape (one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)');
      }
    }
  };
  const value = (depth: number): void => {
    space();
    const open = text[i];
    if (open === '"') {
      string();
    } else if (open === '{' || open === '[') {
      if (depth >= MAX_JSON_DEPTH) fail(`nested deeper than ${MAX_JSON_DEPTH} levels`);
      const close = open === '{' ? '}' : ']';
      const keys = new Set<string>();
      i++;
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (open === '{') {
          space();
          if (text[i] !== '"') fail(`expected a property name in double quotes, ${found()}`);
          const at = i;
          const key = string();
          if (keys.has(key)) fail(`duplicate key ${JSON.stringify(key)}`, at);
          keys.add(key);
          space();
          if (text[i] !== ':') fail(`expected ':', ${found()}`);
          i++;
        }
        value(depth + 1);
        space();
        if (text[i] === close) {
          i++;
          return;
        }
        if (text[i] !== ',') fail(`expected ',' or '${close}', ${found()}`);
        i++;
      }
    } else if (!sticky(NUMBER) && !sticky(LITERAL)) {
      fail(`expected a value, ${found()}`);
    }
  };
  try {
    value(0);
    space();
    if (i < text.length) fail(`expected the end of the file, ${found()}`);
  } catch (e) {
    if (!(e instanceof SyntaxAt)) throw e;
    const before = text.slice(0, e.offset);
    const line = before.split('\n').length;
    return { ok: false, line, column: e.offset - before.lastIndexOf('\n'), reason: e.reason };
  }
  return { ok: true, value: JSON.parse(text) };
}
