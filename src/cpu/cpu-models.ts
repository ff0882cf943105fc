// The CPU models `-cpu` accepts, and the identification registers each shows.
// The ID registers describe what warmboot implements for that model, so a guest
// that probes them never tries an instruction it would find UNDEFINED.
import type { Feature } from '../a64/decode-table.js';

export interface CpuModel {
  readonly name: string;
  readonly midr: bigint;
  readonly features: ReadonlySet<Feature>;
  /** CTR_EL0: IDC=0 and DIC=0 so guests do cache maintenance; 64-byte lines. */
  readonly ctr: bigint;
}

const V80: Feature[] = ['crc32'];
const V82: Feature[] = ['crc32', 'lse', 'lrcpc'];

const MODELS: readonly CpuModel[] = [
  { name: 'cortex-a53', midr: 0x410fd034n, features: new Set(V80), ctr: 0x84448004n },
  { name: 'cortex-a57', midr: 0x411fd070n, features: new Set(V80), ctr: 0x8444c004n },
  { name: 'cortex-a72', midr: 0x410fd083n, features: new Set(V80), ctr: 0x8444c004n },
  { name: 'cortex-a76', midr: 0x414fd0b1n, features: new Set(V82), ctr: 0x8444c004n },
  { name: 'neoverse-n1', midr: 0x414fd0c1n, features: new Set(V82), ctr: 0x8444c004n },
  // What `-cpu max` means here: every feature warmboot implements.
  { name: 'max', midr: 0x000f0510n, features: new Set(V82), ctr: 0x8444c004n },
];

export const DEFAULT_CPU_MODEL = 'max';

export function cpuModelNames(): string[] {
  return MODELS.map((m) => m.name);
}

export function findCpuModel(name: string): CpuModel | undefined {
  return MODELS.find((m) => m.name === name);
}

/** MPIDR_EL1 as KVM assigns it: bit 31 set, Aff0 from the low 4 bits of the vcpu id. */
export function mpidrForVcpu(id: number): bigint {
  return (1n << 31n) | (BigInt((id >> 12) & 0xff) << 16n) | (BigInt((id >> 4) & 0xff) << 8n) | BigInt(id & 0xf);
}

/** `gicv3`: the machine has a GICv3, whose CPU interface these cpus reach through ICC_* system registers. */
export function idRegisterValue(model: CpuModel, name: string, vcpuId: number, gicv3 = false): bigint {
  const f = model.features;
  switch (name) {
    case 'MIDR_EL1': return model.midr;
    case 'MPIDR_EL1': return mpidrForVcpu(vcpuId);
    case 'CTR_EL0': return model.ctr;
    // EL0 and EL1 AArch64 only; no EL2/EL3; FP and AdvSIMD not implemented (0xf).
    // GIC [27:24] = 1 when the GICv3 system-register interface is there.
    case 'ID_AA64PFR0_EL1': return 0x00ff0011n | (gicv3 ? 1n << 24n : 0n);
    // DebugVer v8, two breakpoints and two watchpoints, no PMU.
    case 'ID_AA64DFR0_EL1': return 0x00101006n;
    case 'ID_AA64ISAR0_EL1':
      return (f.has('crc32') ? 1n << 16n : 0n) | (f.has('lse') ? 2n << 20n : 0n);
    case 'ID_AA64ISAR1_EL1':
      return f.has('lrcpc') ? 1n << 20n : 0n;
    // 48-bit PA, 16-bit ASIDs, 4K/16K/64K granules; little-endian only.
    case 'ID_AA64MMFR0_EL1': return 0x00100025n;
    case 'ID_AA64MMFR1_EL1':
      return (f.has('pan') ? 1n << 20n : 0n) | (f.has('lor') ? 1n << 16n : 0n);
    default: return 0n;
  }
}
