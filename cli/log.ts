// The log of the long-running commands (gateway, devnet, npm start), on
// stderr: every line timestamped, as text (`<ISO time> <message>`) for a
// terminal or journald, or as one JSON object per line ({time, level, msg,
// ...fields}) for a log collector. Errors a user acts on before anything runs
// are not log lines: they stay `icboot: ...` (cli/main.ts).
import { Option } from 'commander';
import { UserError } from '../common/errors.ts';

export type LogFormat = 'text' | 'json';
const FORMATS: readonly LogFormat[] = ['text', 'json'];
export type LogLevel = 'info' | 'error';
/** What a line is about, as JSON values (in JSON lines only: the text line's message already says it). */
export type LogFields = Readonly<Record<string, string | number | boolean>>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** For a program without commander (npm start); commander checks the option's choices itself. */
export function parseLogFormat(value: string): LogFormat {
  if ((FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new UserError(`--log-format is ${JSON.stringify(value)}: use text or json`);
}

/** The --log-format option, as every long-running command declares it. */
export function logFormatOption(): Option {
  return new Option('--log-format <format>', 'log lines on stderr as text (<time> <message>) or json (one object per line)')
    .choices(FORMATS).default('text');
}

/** One log line, newline included. */
export function formatLine(format: LogFormat, time: Date, level: LogLevel, msg: string, fields: LogFields = {}): string {
  if (format === 'text') return `${time.toISOString()} ${msg}\n`;
  // time, level and msg first and never replaced by a field of the same name.
  return `${JSON.stringify({ ...{ time: '', level: '', msg: '' }, ...fields, time: time.toISOString(), level, msg })}\n`;
}

export function createLogger(format: LogFormat, write: (line: string) => void = (line) => process.stderr.write(line),
  now: () => Date = () => new Date()): Logger {
  const line = (level: LogLevel) => (msg: string, fields?: LogFields): void => write(formatLine(format, now(), level, msg, fields));
  return { info: line('info'), error: line('error') };
}
