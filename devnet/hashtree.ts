// IC hash trees (interface spec, "Certification"): building a labeled tree from
// nested maps, hashing it, and the CBOR shape the agent decodes.
import { sha256 } from '@noble/hashes/sha2';
import { concatBytes } from '@noble/hashes/utils';

export type HashTree =
  | [0]
  | [1, HashTree, HashTree]
  | [2, Uint8Array, HashTree]
  | [3, Uint8Array]
  | [4, Uint8Array];

/** A node of the state to certify: a leaf value or labeled children. */
export type StateNode = Uint8Array | StateMap;
export type StateMap = Map<string | Uint8Array, StateNode>;

const enc = new TextEncoder();

/** Builds a state map from labeled children. */
export function node(...children: [string | Uint8Array, StateNode][]): StateMap {
  return new Map(children);
}

function domain(s: string): Uint8Array {
  const b = enc.encode(s);
  return concatBytes(Uint8Array.of(b.length), b);
}
const EMPTY = domain('ic-hashtree-empty');
const FORK = domain('ic-hashtree-fork');
const LABELED = domain('ic-hashtree-labeled');
const LEAF = domain('ic-hashtree-leaf');

export function label(l: string | Uint8Array): Uint8Array {
  return typeof l === 'string' ? enc.encode(l) : l;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Labels sorted bytewise, children folded into a balanced fork tree. */
export function buildTree(node: StateNode): HashTree {
  if (node instanceof Uint8Array) return [3, node];
  const entries = [...node.entries()]
    .map(([l, child]) => [label(l), child] as const)
    .sort((a, b) => compareBytes(a[0], b[0]));
  const labeled: HashTree[] = entries.map(([l, child]) => [2, l, buildTree(child)]);
  return fork(labeled);
}

function fork(nodes: HashTree[]): HashTree {
  if (nodes.length === 0) return [0];
  if (nodes.length === 1) return nodes[0];
  const mid = Math.ceil(nodes.length / 2);
  return [1, fork(nodes.slice(0, mid)), fork(nodes.slice(mid))];
}

export function digest(t: HashTree): Uint8Array {
  switch (t[0]) {
    case 0: return sha256(EMPTY);
    case 1: return sha256(concatBytes(FORK, digest(t[1]), digest(t[2])));
    case 2: return sha256(concatBytes(LABELED, t[1], digest(t[2])));
    case 3: return sha256(concatBytes(LEAF, t[1]));
    case 4: return t[1];
  }
}
