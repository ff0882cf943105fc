// PSCI and SMCCC function ids and return codes (DEN0022, DEN0028), and the
// handling of a guest's HVC/SMC call the way Linux KVM answers it.

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
export const PSCI_SYSTEM_RESET2_32 = 0x84000012;
export const PSCI_SYSTEM_RESET2_64 = 0xc4000012;
export const SMCCC_VERSION = 0x80000000;
export const SMCCC_ARCH_FEATURES = 0x80000001;

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

/** KVM_SYSTEM_EVENT_* types. */
export const enum SystemEventType {
  Shutdown = 1,
  Reset = 2,
  Crash = 3,
  Wakeup = 4,
  Suspend = 5,
}

/** What a PSCI call asks of the run loop beyond its return value. */
export type PsciOutcome =
  | { kind: 'return'; value: bigint }
  | { kind: 'system-event'; type: SystemEventType; flags: bigint };

/**
 * Answers one PSCI/SMCCC call. `x` are the caller's X0-X3. The functions that
 * need the run loop's vcpu bookkeeping (CPU_ON and friends) arrive with the
 * SMP work; here they report NOT_SUPPORTED, as PSCI_FEATURES says.
 */
export function handlePsciCall(x: readonly bigint[]): PsciOutcome {
  const fn = Number(x[0] & 0xffffffffn);
  const ret = (v: number): PsciOutcome => ({ kind: 'return', value: BigInt.asUintN(64, BigInt(v)) });
  switch (fn) {
    case PSCI_VERSION:
      return ret(0x10001);
    case PSCI_MIGRATE_INFO_TYPE:
      return ret(2);
    case PSCI_SYSTEM_OFF:
      return { kind: 'system-event', type: SystemEventType.Shutdown, flags: 0n };
    case PSCI_SYSTEM_RESET:
      return { kind: 'system-event', type: SystemEventType.Reset, flags: 0n };
    case PSCI_FEATURES: {
      const q = Number(x[1] & 0xffffffffn);
      return ret(IMPLEMENTED.has(q) ? PSCI_RET_SUCCESS : PSCI_RET_NOT_SUPPORTED);
    }
    case SMCCC_VERSION:
      return ret(0x10001);
    default:
      return ret(PSCI_RET_NOT_SUPPORTED);
  }
}

const IMPLEMENTED: ReadonlySet<number> = new Set([
  PSCI_VERSION, PSCI_MIGRATE_INFO_TYPE, PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET, PSCI_FEATURES, SMCCC_VERSION,
]);
