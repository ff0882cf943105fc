// PSCI 1.1 and SMCCC 1.1 (DEN0022, DEN0028) as Linux KVM answers them: the
// function ids, return codes, and the handling of one guest call. The run
// loop supplies the vcpu bookkeeping through PsciHost.

export const PSCI_VERSION = 0x84000000;
export const PSCI_CPU_SUSPEND_32 = 0x84000001;
export const PSCI_CPU_SUSPEND_64 = 0xc4000001;
export const PSCI_CPU_OFF = 0x84000002;
export const PSCI_CPU_ON_32 = 0x84000003;
export const PSCI_CPU_ON_64 = 0xc4000003;
export const PSCI_AFFINITY_INFO_32 = 0x84000004;
export const PSCI_AFFINITY_INFO_64 = 0xc4000004;
export const PSCI_MIGRATE_32 = 0x84000005;
export const PSCI_MIGRATE_64 = 0xc4000005;
export const PSCI_MIGRATE_INFO_TYPE = 0x84000006;
export const PSCI_MIGRATE_INFO_UP_CPU_32 = 0x84000007;
export const PSCI_MIGRATE_INFO_UP_CPU_64 = 0xc4000007;
export const PSCI_SYSTEM_OFF = 0x84000008;
export const PSCI_SYSTEM_RESET = 0x84000009;
export const PSCI_FEATURES = 0x8400000a;
export const PSCI_SYSTEM_SUSPEND_32 = 0x8400000e;
export const PSCI_SYSTEM_SUSPEND_64 = 0xc400000e;
export const PSCI_SYSTEM_RESET2_32 = 0x84000012;
export const PSCI_SYSTEM_RESET2_64 = 0xc4000012;
/** PSCI 0.1 ids KVM still answers. */
export const PSCI_0_1_CPU_OFF = 0x95c1ba5f;
export const PSCI_0_1_CPU_ON = 0x95c1ba60;
export const SMCCC_VERSION = 0x80000000;
export const SMCCC_ARCH_FEATURES = 0x80000001;
export const SMCCC_ARCH_WORKAROUND_1 = 0x80008000;
export const SMCCC_ARCH_WORKAROUND_2 = 0x80007fff;
export const SMCCC_ARCH_WORKAROUND_3 = 0x80003fff;

export const PSCI_RET_SUCCESS = 0;
export const PSCI_RET_NOT_SUPPORTED = -1;
export const PSCI_RET_INVALID_PARAMETERS = -2;
export const PSCI_RET_DENIED = -3;
export const PSCI_RET_ALREADY_ON = -4;
export const PSCI_RET_ON_PENDING = -5;
export const PSCI_RET_INTERNAL_FAILURE = -6;
export const PSCI_RET_NOT_PRESENT = -7;
export const PSCI_RET_DISABLED = -8;
export const PSCI_RET_INVALID_ADDRESS = -9;

/** SMCCC_ARCH_WORKAROUND_* answers: an emulated CPU is not affected. */
const SMCCC_RET_NOT_REQUIRED = -2;
const SMCCC_ARCH_WORKAROUND_RET_UNAFFECTED = 1;

/**
 * KVM_SYSTEM_EVENT_* types. A real enum, not a const one: embedders writing
 * plain JavaScript import it as a value.
 */
export enum SystemEventType {
  Shutdown = 1,
  Reset = 2,
  Crash = 3,
  Wakeup = 4,
  Suspend = 5,
}

/** KVM_SYSTEM_EVENT_RESET_FLAG_PSCI_RESET2: the reset came from SYSTEM_RESET2 (type in x1, cookie in x2). */
export const SYSTEM_EVENT_FLAG_PSCI_RESET2 = 1n;

/** The PSCI version a VM implements: 1.1, or KVM's legacy 0.1 (only CPU_ON/CPU_OFF, with their own ids). */
export type PsciVersion = '0.1' | '1.1';

/** The vcpu bookkeeping PSCI needs from the run loop. */
export interface PsciHost {
  readonly vcpuCount: number;
  mpidr(vcpu: number): bigint;
  isOff(vcpu: number): boolean;
  /** Powers a stopped vcpu on at `entry` with x0 = `contextId`, in the reset state. */
  powerOn(vcpu: number, entry: bigint, contextId: bigint): void;
}

/** What a call asks of the run loop beyond its return value. */
export type PsciOutcome =
  | { kind: 'return'; value: bigint }
  | { kind: 'system-event'; type: SystemEventType; flags: bigint }
  /** The caller powers itself off; nothing is returned. */
  | { kind: 'cpu-off' }
  /** CPU_SUSPEND: behaves as WFI, then returns SUCCESS. */
  | { kind: 'suspend' };

/** KVM's affinity mask for AFFINITY_INFO: the MPIDR affinity fields at and above `level`. */
const MPIDR_HWID_MASK = 0xff00ffffffn;
function affinityMask(level: number): bigint {
  const masks = [0xff00ffffffn, 0xff00ffff00n, 0xff00ff0000n, 0xff00000000n];
  return masks[level];
}

const ret = (v: number): PsciOutcome => ({ kind: 'return', value: BigInt.asUintN(64, BigInt(v)) });

/**
 * KVM's kvm_psci_valid_affinity: an affinity argument with bits outside
 * Aff3-Aff0 (MPIDR_EL1 as read, with its RES1 bit 31, for one) names no cpu.
 */
function validAffinity(mpidr: bigint): boolean {
  return (mpidr & ~MPIDR_HWID_MASK) === 0n;
}

function findVcpu(host: PsciHost, mpidr: bigint): number {
  if (!validAffinity(mpidr)) return -1;
  for (let i = 0; i < host.vcpuCount; i++) {
    if ((host.mpidr(i) & MPIDR_HWID_MASK) === mpidr) return i;
  }
  return -1;
}

/** Function ids PSCI_FEATURES reports as implemented, as KVM's PSCI 1.1 does. */
const FEATURES: ReadonlySet<number> = new Set([
  PSCI_VERSION, PSCI_CPU_SUSPEND_32, PSCI_CPU_SUSPEND_64, PSCI_CPU_OFF, PSCI_CPU_ON_32, PSCI_CPU_ON_64,
  PSCI_AFFINITY_INFO_32, PSCI_AFFINITY_INFO_64, PSCI_MIGRATE_INFO_TYPE, PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET,
  PSCI_FEATURES, SMCCC_VERSION, PSCI_SYSTEM_RESET2_32, PSCI_SYSTEM_RESET2_64,
]);

/**
 * Answers one PSCI/SMCCC call with the caller's X0-X3. SMC32
 * calls (ids with bit 30 clear) see only the low 32 bits of their arguments.
 */
export function handlePsciCall(host: PsciHost, x: readonly bigint[], version: PsciVersion = '1.1'): PsciOutcome {
  const fn = Number(x[0] & 0xffffffffn);
  // KVM answers the 0.1 ids only in a VM created with PSCI 0.1, and then
  // nothing else (kvm_psci_0_1_call); a 0.2+ VM does not know them.
  const legacy = fn === PSCI_0_1_CPU_ON || fn === PSCI_0_1_CPU_OFF;
  if (legacy !== (version === '0.1')) return ret(PSCI_RET_NOT_SUPPORTED);
  const is32 = (fn & 0x40000000) === 0 && fn !== PSCI_0_1_CPU_ON && fn !== PSCI_0_1_CPU_OFF;
  const arg = (i: number): bigint => (is32 ? x[i] & 0xffffffffn : x[i]);
  switch (fn) {
    case PSCI_VERSION:
      return ret(0x10001);
    case PSCI_CPU_SUSPEND_32:
    case PSCI_CPU_SUSPEND_64:
      return { kind: 'suspend' };
    case PSCI_CPU_OFF:
    case PSCI_0_1_CPU_OFF:
      return { kind: 'cpu-off' };
    case PSCI_CPU_ON_32:
    case PSCI_CPU_ON_64:
    case PSCI_0_1_CPU_ON: {
      const target = findVcpu(host, arg(1));
      if (target < 0) return ret(PSCI_RET_INVALID_PARAMETERS);
      if (!host.isOff(target)) return ret(fn === PSCI_0_1_CPU_ON ? PSCI_RET_INVALID_PARAMETERS : PSCI_RET_ALREADY_ON);
      const entry = arg(2);
      if ((entry & 3n) !== 0n) return ret(PSCI_RET_INVALID_ADDRESS);
      host.powerOn(target, entry, arg(3));
      return ret(PSCI_RET_SUCCESS);
    }
    case PSCI_AFFINITY_INFO_32:
    case PSCI_AFFINITY_INFO_64: {
      const level = Number(arg(2));
      if (!validAffinity(arg(1)) || arg(2) > 3n) return ret(PSCI_RET_INVALID_PARAMETERS);
      const mask = affinityMask(level);
      const target = arg(1) & mask;
      let matched = false;
      for (let i = 0; i < host.vcpuCount; i++) {
        if ((host.mpidr(i) & mask) !== target) continue;
        matched = true;
        if (!host.isOff(i)) return ret(0); // ON
      }
      return ret(matched ? 1 : PSCI_RET_INVALID_PARAMETERS); // OFF
    }
    case PSCI_MIGRATE_32:
    case PSCI_MIGRATE_64:
    case PSCI_MIGRATE_INFO_UP_CPU_32:
    case PSCI_MIGRATE_INFO_UP_CPU_64:
      return ret(PSCI_RET_NOT_SUPPORTED);
    case PSCI_MIGRATE_INFO_TYPE:
      return ret(2);
    case PSCI_SYSTEM_OFF:
      return { kind: 'system-event', type: SystemEventType.Shutdown, flags: 0n };
    case PSCI_SYSTEM_RESET:
      return { kind: 'system-event', type: SystemEventType.Reset, flags: 0n };
    case PSCI_SYSTEM_RESET2_32:
    case PSCI_SYSTEM_RESET2_64: {
      // Type 0 is SYSTEM_WARM_RESET; bit 31 marks vendor-specific types.
      const type = Number(arg(1) & 0xffffffffn);
      if (type !== 0 && (type & 0x80000000) === 0) return ret(PSCI_RET_INVALID_PARAMETERS);
      return { kind: 'system-event', type: SystemEventType.Reset, flags: SYSTEM_EVENT_FLAG_PSCI_RESET2 };
    }
    case PSCI_FEATURES:
      return ret(FEATURES.has(Number(arg(1) & 0xffffffffn)) ? PSCI_RET_SUCCESS : PSCI_RET_NOT_SUPPORTED);
    case SMCCC_VERSION:
      return ret(0x10001);
    case SMCCC_ARCH_FEATURES:
      switch (Number(arg(1) & 0xffffffffn)) {
        case SMCCC_ARCH_WORKAROUND_1:
        case SMCCC_ARCH_WORKAROUND_3:
          return ret(SMCCC_ARCH_WORKAROUND_RET_UNAFFECTED);
        case SMCCC_ARCH_WORKAROUND_2:
          return ret(SMCCC_RET_NOT_REQUIRED);
        default:
          return ret(PSCI_RET_NOT_SUPPORTED);
      }
    default:
      return ret(PSCI_RET_NOT_SUPPORTED);
  }
}
