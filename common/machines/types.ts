// Machine profiles and groups: files under `icboot/` in a boot tree, so they
// are certified, roll back and reach every gateway with the release. This is
// the contract the uploader (validation), the gateway (rendering) and
// `icboot machines` share; parsing and selection live beside it.

/** The folder of a boot tree that holds profiles (`profiles/*.json`), groups (`groups/*.json`) and templates. */
export const MACHINES_DIR = 'icboot';

/** Firmware families a group may select on: BIOS, UEFI on x86-64, UEFI on arm64. */
export const ARCHES = ['bios', 'efi-x86_64', 'efi-arm64'] as const;
export type Arch = (typeof ARCHES)[number];

/** What boots: a kernel, its initrds and its command line, all tree paths; plus named templates. */
export interface Profile {
  /** The file name without `.json`: `icboot/profiles/<id>.json`. */
  id: string;
  /** A human description. */
  name: string;
  /** Tree path of the kernel. */
  kernel: string;
  /** Tree paths of the initrds, in order. */
  initrds: string[];
  /** Kernel command line, itself a template (it may use the selectors, metadata and gateway address). */
  args: string;
  /** Template name → tree path, served at /generic?template=NAME and, for NoCloud names, /cloud-init/NAME. */
  templates: Record<string, string>;
}

/** Which machines get which profile, and what metadata their templates see. */
export interface Group {
  /** The file name without `.json`: `icboot/groups/<id>.json`. */
  id: string;
  name: string;
  /** Profile id. */
  profile: string;
  /** Key → value a machine must match, all of them; empty: the default group, matching every machine. */
  selector: Record<string, string>;
  /** Free-form JSON values, visible to templates as `metadata`. */
  metadata: Record<string, unknown>;
}

export interface Machines {
  profiles: Map<string, Profile>;
  /** In file-name order; selection does not depend on it (see selectGroup). */
  groups: Group[];
}

/** What a machine is known by in a request: normalised selector key → value (mac lower-case with colons, arch one of ARCHES). */
export type Selectors = Record<string, string>;

/** Read access to a boot tree: the uploader's local directory, or the gateway's certified release. */
export interface TreeReader {
  /** Every file path in the tree. */
  paths(): Iterable<string>;
  /** The size in bytes of a file the tree holds, known without reading it (so an oversized file is refused unread). */
  size(path: string): number;
  read(path: string): Promise<Uint8Array>;
}
