// A Candid message can declare a vector of a zero-sized type (null, reserved,
// an empty record) with a billion elements in a few bytes; decoding it
// materializes every element and exhausts the process. The devnet decodes
// management-canister arguments in its own process, so it refuses such type
// tables before decoding, as the IC's decoding quota does.
import { slebDecode, lebDecode, PipeArrayBuffer } from '@dfinity/candid';

const NULL = -1;
const RESERVED = -16;
const EMPTY = -17;
const OPT = -18;
const VEC = -19;
const RECORD = -20;
const VARIANT = -21;
const FUNC = -22;
const SERVICE = -23;

type Entry = { op: number; fields: number[] };

export class CandidGuardError extends Error {}

export function assertNoZeroSizedVectors(bytes: Uint8Array): void {
  const pipe = new PipeArrayBuffer(bytes);
  const magic = new TextDecoder().decode(pipe.read(4));
  if (magic !== 'DIDL') throw new CandidGuardError('not a Candid message (missing DIDL magic)');
  const count = Number(lebDecode(pipe));
  if (count > 10_000) throw new CandidGuardError(`Candid type table of ${count} entries is too large`);
  const table: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const op = Number(slebDecode(pipe));
    const fields: number[] = [];
    switch (op) {
      case OPT:
      case VEC:
        fields.push(Number(slebDecode(pipe)));
        break;
      case RECORD:
      case VARIANT:
        for (let n = Number(lebDecode(pipe)); n > 0; n--) {
          lebDecode(pipe);
          fields.push(Number(slebDecode(pipe)));
        }
        break;
      case FUNC:
        for (let n = Number(lebDecode(pipe)); n > 0; n--) slebDecode(pipe);
        for (let n = Number(lebDecode(pipe)); n > 0; n--) slebDecode(pipe);
        pipe.read(Number(lebDecode(pipe)));
        break;
      case SERVICE:
        for (let n = Number(lebDecode(pipe)); n > 0; n--) {
          pipe.read(Number(lebDecode(pipe)));
          slebDecode(pipe);
        }
        break;
      default:
        throw new CandidGuardError(`unsupported Candid type opcode ${op}`);
    }
    table.push({ op, fields });
  }
  const zeroSized = (t: number, seen: Set<number>): boolean => {
    if (t === NULL || t === RESERVED || t === EMPTY) return true;
    if (t < 0) return false;
    const e = table[t];
    if (!e) throw new CandidGuardError(`Candid type index ${t} out of range`);
    if (e.op !== RECORD) return false;
    if (seen.has(t)) return true;
    seen.add(t);
    return e.fields.every((f) => zeroSized(f, seen));
  };
  for (const e of table) {
    if (e.op === VEC && zeroSized(e.fields[0], new Set())) {
      throw new CandidGuardError('Candid vectors of zero-sized types (null, reserved, empty records) are not accepted');
    }
  }
}
