// The cycles minting canister (rkp4c-7iaaa-aaaaa-aaaca-cai) as a devnet
// builtin, as far as tools choosing a subnet ask it: the devnet's one subnet
// is the default for new canisters, and no subnet has a special type.
import { Principal } from '@dfinity/principal';
import type { IDL } from '@dfinity/candid';
import type { BuiltinCanister } from './builtin.ts';
import { CandidMethods } from './candid_methods.ts';

export const CMC_ID = Principal.fromText('rkp4c-7iaaa-aaaaa-aaaca-cai');

export const cmcIdl: IDL.InterfaceFactory = ({ IDL: I }) => I.Service({
  get_default_subnets: I.Func([], [I.Vec(I.Principal)], ['query']),
  get_subnet_types_to_subnets: I.Func([], [I.Record({ data: I.Vec(I.Tuple(I.Text, I.Vec(I.Principal))) })], ['query']),
});

export function cyclesMintingCanister(subnetId: Principal): BuiltinCanister {
  return new CandidMethods(CMC_ID, cmcIdl, {
    get_default_subnets: () => [[subnetId]],
    get_subnet_types_to_subnets: () => [{ data: [] }],
  });
}
