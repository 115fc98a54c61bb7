// What the proxyDHCP server is fed in tests and benchmarks: a valid PXE
// DISCOVER as firmware sends it, and a deterministic stream of malformed
// packets (issue 13's bad-input list, plus random mutations of a DISCOVER).
// The same seed gives the same bytes, so a failure can be replayed.
import { IPXE_OPTION, IPXE_USER_CLASS } from '../../common/machines/firmware.ts';
import { BOOTREPLY, BOOTREQUEST, HEADER, MAGIC_COOKIE, MSG, OPT, encodeDhcp, type PacketProblem } from './packet.ts';

export interface DiscoverOptions {
  mac: string;
  /** Option 93 (RFC 4578): 0 BIOS, 7 x86-64 UEFI, 11 arm64 UEFI. */
  arch: number;
  /** Send iPXE's option 175 and user class "iPXE", as a client already running iPXE does. */
  ipxe?: boolean;
  /** Option 60; by default `PXEClient:Arch:<arch, 5 digits>:UNDI:003016`, as OVMF sends it. */
  vendorClass?: string;
  xid?: number;
}

/** iPXE's option 175: a few of the feature flags it announces (PXE extensions, HTTP, DNS, bzImage), each code, 1, 1. */
const IPXE_FEATURES = Buffer.from([0x13, 1, 1, 0x15, 1, 1, 0x17, 1, 1, 0x18, 1, 1]);
/** What PXE firmware asks for in option 55 (PXE 2.1 spec): mask, routers, DNS, host name, domain, vendor class, server id, TFTP server and file name, 128-135. */
const PXE_PARAMS = Buffer.from([1, 3, 6, 12, 15, 43, 54, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135]);

export function pxeDiscover(o: DiscoverOptions): Buffer {
  const mac = Buffer.from(o.mac.split(':').map((h) => parseInt(h, 16)));
  const chaddr = Buffer.alloc(16);
  mac.copy(chaddr);
  // Option 97: type 0, then a 16-byte UUID; here derived from the MAC so it is stable per machine.
  const uuid = Buffer.concat([Buffer.from([0]), mac, Buffer.alloc(10, 0xa5)]);
  const arch = Buffer.alloc(2);
  arch.writeUInt16BE(o.arch & 0xffff);
  const options = new Map<number, Buffer>([
    [OPT.MESSAGE_TYPE, Buffer.from([MSG.DISCOVER])],
    [OPT.MAX_MESSAGE_SIZE, Buffer.from([0x05, 0xc0])],
    [OPT.PARAM_REQUEST_LIST, PXE_PARAMS],
    [OPT.CLIENT_UUID, uuid],
    [OPT.CLIENT_ARCH, arch],
    // Option 94: UNDI, version 3.16 (what current firmware reports).
    [OPT.CLIENT_NDI, Buffer.from([1, 3, 16])],
    [OPT.VENDOR_CLASS, Buffer.from(o.vendorClass ?? `PXEClient:Arch:${String(o.arch).padStart(5, '0')}:UNDI:003016`, 'latin1')],
  ]);
  if (o.ipxe) {
    options.set(IPXE_OPTION, IPXE_FEATURES);
    options.set(OPT.USER_CLASS, Buffer.from(IPXE_USER_CLASS));
  }
  return encodeDhcp({
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: o.xid ?? 0x1ceb007, secs: 4, flags: 0x8000,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr, sname: '', file: '', options,
  });
}

/**
 * Each kind of malformed packet, and what parseDhcp must make of it: a
 * problem, 'ok' (parsed: sloppy but acceptable, or well-formed but not for a
 * server to answer), or null for random mutations, which may parse either way.
 */
export const CORPUS_KINDS = {
  'truncated-header': 'short',
  'option-overrun': 'option-overrun',
  'overload-loop': 'bad-overload',
  'overload-no-end': 'no-end',
  'missing-end': 'ok',
  'huge-option-43': 'ok',
  'bad-cookie': 'cookie',
  'bootreply': 'ok',
  'not-ethernet': 'not-ethernet',
  'bit-flip': null,
  'random-options': null,
} as const satisfies Record<string, PacketProblem | 'ok' | null>;

export type CorpusKind = keyof typeof CORPUS_KINDS;

/** mulberry32: small, fast, and the same sequence on every platform. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The largest UDP payload over IPv4. */
const MAX_DATAGRAM = 65507;

/** A DISCOVER's header and cookie with `options` in place of its options. */
function withOptions(discover: Buffer, options: number[] | Buffer): Buffer {
  return Buffer.concat([discover.subarray(0, HEADER.optionsAt), Buffer.from(options)]);
}

const KIND_NAMES = Object.keys(CORPUS_KINDS) as CorpusKind[];

export function* malformedPackets(seed: number, count: number): Generator<{ kind: CorpusKind; bytes: Buffer }> {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const bytes = (n: number): number[] => Array.from({ length: n }, () => int(256));
  for (let i = 0; i < count; i++) {
    const kind = KIND_NAMES[i % KIND_NAMES.length];
    const mac = bytes(6).map((x) => x.toString(16).padStart(2, '0')).join(':');
    const valid = pxeDiscover({ mac, arch: [0, 7, 9, 11][int(4)], ipxe: rnd() < 0.5, xid: int(2 ** 32) });
    const make = (): Buffer => {
      switch (kind) {
        case 'truncated-header':
          return valid.subarray(0, int(HEADER.optionsAt));
        case 'option-overrun': {
          // A message type, then an option whose length runs past the end, or that ends at its length byte's place.
          const len = 1 + int(255);
          const tail = rnd() < 0.8 ? [1 + int(254), len, ...bytes(int(len))] : [1 + int(254)];
          return withOptions(valid, [OPT.MESSAGE_TYPE, 1, MSG.DISCOVER, ...tail]);
        }
        case 'overload-loop': {
          // Option 52 again inside the field it overloads, a bad value, or two instances in the options field.
          const b = Buffer.from(valid);
          const variant = int(3);
          if (variant === 0) {
            b.fill(0, HEADER.sname.at, HEADER.cookieAt);
            b[HEADER.file.at] = OPT.END;
            b[HEADER.sname.at] = OPT.END;
            b.set([OPT.OVERLOAD, 1, 3, OPT.END], rnd() < 0.5 ? HEADER.file.at : HEADER.sname.at);
            return withOptions(b, [OPT.OVERLOAD, 1, 3, OPT.MESSAGE_TYPE, 1, MSG.DISCOVER, OPT.END]);
          }
          if (variant === 1) return withOptions(b, [OPT.OVERLOAD, 1, [0, 4, 255][int(3)], OPT.END]);
          return withOptions(b, [OPT.OVERLOAD, 1, 1, OPT.OVERLOAD, 1, 2, OPT.END]);
        }
        case 'overload-no-end': {
          // Overloaded file field full of options, none of them END.
          const b = Buffer.from(valid);
          for (let at = HEADER.file.at; at < HEADER.file.at + HEADER.file.bytes; at += 4) b.set([3 + int(40), 2, int(256), int(256)], at);
          return withOptions(b, [OPT.OVERLOAD, 1, 1, OPT.END]);
        }
        case 'missing-end':
          return valid.subarray(0, valid.lastIndexOf(OPT.END));
        case 'huge-option-43': {
          // Option 43 as many RFC 3396 instances, filling up to a whole datagram.
          const instances = 1 + int(Math.floor((MAX_DATAGRAM - valid.length) / 257));
          const instance = Buffer.concat([Buffer.from([OPT.VENDOR_SPECIFIC, 255]), Buffer.alloc(255, int(256))]);
          return Buffer.concat([valid.subarray(0, valid.lastIndexOf(OPT.END)), ...Array(instances).fill(instance), Buffer.from([OPT.END])]);
        }
        case 'bad-cookie': {
          const b = Buffer.from(valid);
          b.writeUInt32BE((MAGIC_COOKIE ^ (1 + int(0xffffffff))) >>> 0, HEADER.cookieAt);
          return b;
        }
        case 'bootreply': {
          const b = Buffer.from(valid);
          b[0] = BOOTREPLY;
          return b;
        }
        case 'not-ethernet': {
          const b = Buffer.from(valid);
          if (rnd() < 0.5) b[1] = [6, 32, 0][int(3)];
          else b[2] = [0, 8, 16, 20, 255][int(5)];
          return b;
        }
        case 'bit-flip': {
          const b = Buffer.from(valid);
          for (let k = 1 + int(8); k > 0; k--) b[int(b.length)] ^= 1 << int(8);
          return b;
        }
        case 'random-options':
          return withOptions(valid, bytes(int(1200)));
      }
    };
    yield { kind, bytes: make() };
  }
}
