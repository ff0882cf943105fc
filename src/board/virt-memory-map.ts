/**
 * The physical memory map and interrupt assignments of QEMU's `-M virt` board.
 *
 * Guests built for that board (U-Boot's qemu_arm64, bare-metal test programs,
 * kernels booted without a device tree fix-up) hard-code these addresses, so
 * they are facts to reproduce exactly, not choices. Values are those of QEMU's
 * hw/arm/virt.c base memory map. Every value fits below 2^53 and is therefore a
 * plain `number`.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

// ---------------------------------------------------------------------------
// Boot flash: two CFI banks back to back, the first one holds -bios firmware.

export const VIRT_FLASH_BASE = 0x0000_0000;
export const VIRT_FLASH_SIZE = 0x0800_0000;
export const VIRT_FLASH_BANK_SIZE = VIRT_FLASH_SIZE / 2;
export const VIRT_FLASH_BANK_COUNT = 2;
/** Bytes per flash access, as the device tree's bank-width says. */
export const VIRT_FLASH_BANK_WIDTH = 4;

// ---------------------------------------------------------------------------
// GIC. The v2 CPU interface and the v3 redistributors are alternatives: a
// machine has one GIC version, so only one of the two regions is populated.

export const VIRT_CPUPERIPHS_BASE = 0x0800_0000;
export const VIRT_CPUPERIPHS_SIZE = 0x0002_0000;

export const VIRT_GIC_DIST_BASE = 0x0800_0000;
export const VIRT_GIC_DIST_SIZE = 0x0001_0000;

export const VIRT_GIC_CPU_BASE = 0x0801_0000;
export const VIRT_GIC_CPU_SIZE = 0x0001_0000;

export const VIRT_GIC_V2M_BASE = 0x0802_0000;
export const VIRT_GIC_V2M_SIZE = 0x0000_1000;

/** GICv2 virtualisation interfaces, only present with EL2 in the guest. */
export const VIRT_GIC_HYP_BASE = 0x0803_0000;
export const VIRT_GIC_HYP_SIZE = 0x0001_0000;
export const VIRT_GIC_VCPU_BASE = 0x0804_0000;
export const VIRT_GIC_VCPU_SIZE = 0x0001_0000;

export const VIRT_GIC_ITS_BASE = 0x0808_0000;
export const VIRT_GIC_ITS_SIZE = 0x0002_0000;

/** Whole window QEMU reserves for GICv3 redistributors below the UART. */
export const VIRT_GIC_REDIST_BASE = 0x080a_0000;
export const VIRT_GIC_REDIST_SIZE = 0x00f6_0000;
/** One GICv3 redistributor: an RD_base frame plus an SGI_base frame, 64 KiB each. */
export const GICV3_REDIST_FRAME_SIZE = 0x0002_0000;
/** How many redistributors fit in the low window (123). */
export const VIRT_GIC_REDIST_MAX_CPUS = VIRT_GIC_REDIST_SIZE / GICV3_REDIST_FRAME_SIZE;
/** GICv2 can only target 8 CPUs (its target lists are 8 bits wide). */
export const GICV2_MAX_CPUS = 8;

// ---------------------------------------------------------------------------
// Low peripherals.

export const VIRT_UART_BASE = 0x0900_0000;
export const VIRT_UART_SIZE = 0x0000_1000;

export const VIRT_RTC_BASE = 0x0901_0000;
export const VIRT_RTC_SIZE = 0x0000_1000;

export const VIRT_FW_CFG_BASE = 0x0902_0000;
export const VIRT_FW_CFG_SIZE = 0x0000_0018;

export const VIRT_GPIO_BASE = 0x0903_0000;
export const VIRT_GPIO_SIZE = 0x0000_1000;

export const VIRT_SECURE_UART_BASE = 0x0904_0000;
export const VIRT_SECURE_UART_SIZE = 0x0000_1000;

export const VIRT_SMMU_BASE = 0x0905_0000;
export const VIRT_SMMU_SIZE = 0x0002_0000;

export const VIRT_PVTIME_BASE = 0x090a_0000;
export const VIRT_PVTIME_SIZE = 0x0001_0000;

export const VIRT_SECURE_GPIO_BASE = 0x090b_0000;
export const VIRT_SECURE_GPIO_SIZE = 0x0000_1000;

/** virtio-mmio transports: VIRT_MMIO_COUNT slots of VIRT_MMIO_SIZE each. */
export const VIRT_MMIO_BASE = 0x0a00_0000;
export const VIRT_MMIO_SIZE = 0x0000_0200;
export const VIRT_MMIO_COUNT = 32;

export const VIRT_PLATFORM_BUS_BASE = 0x0c00_0000;
export const VIRT_PLATFORM_BUS_SIZE = 0x0200_0000;

export const VIRT_SECURE_MEM_BASE = 0x0e00_0000;
export const VIRT_SECURE_MEM_SIZE = 0x0100_0000;

// ---------------------------------------------------------------------------
// PCIe host bridge (low windows).

export const VIRT_PCIE_MMIO_BASE = 0x1000_0000;
export const VIRT_PCIE_MMIO_SIZE = 0x2eff_0000;
export const VIRT_PCIE_PIO_BASE = 0x3eff_0000;
export const VIRT_PCIE_PIO_SIZE = 0x0001_0000;
export const VIRT_PCIE_ECAM_BASE = 0x3f00_0000;
export const VIRT_PCIE_ECAM_SIZE = 0x0100_0000;

// ---------------------------------------------------------------------------
// RAM. QEMU caps the low RAM window at 255 GiB so that the high device
// regions can follow it.

export const VIRT_RAM_BASE = 0x4000_0000;
export const VIRT_RAM_MAX_SIZE = 255 * GiB;

// ---------------------------------------------------------------------------
// Shared peripheral interrupts, numbered as SPIs (the device tree's second
// interrupt cell). The GIC INTID is the SPI number plus GIC_SPI_BASE.

export const GIC_SPI_BASE = 32;
export const GIC_PPI_BASE = 16;

export const VIRT_UART_SPI = 1;
export const VIRT_RTC_SPI = 2;
/** Four legacy PCI INTx lines, SPIs 3 to 6. */
export const VIRT_PCIE_SPI = 3;
export const VIRT_PCIE_SPI_COUNT = 4;
export const VIRT_GPIO_SPI = 7;
export const VIRT_SECURE_UART_SPI = 8;
export const VIRT_ACPI_GED_SPI = 9;
/** One SPI per virtio-mmio slot, SPIs 16 to 47. */
export const VIRT_MMIO_SPI = 16;
export const VIRT_PLATFORM_BUS_SPI = 112;
export const VIRT_PLATFORM_BUS_SPI_COUNT = 64;

// ---------------------------------------------------------------------------
// Private peripheral interrupts, numbered as PPIs (device-tree style); INTID
// is PPI + 16.

/** EL2 (hypervisor) physical timer: INTID 26. */
export const ARCH_TIMER_NS_EL2_PPI = 10;
/** EL1 virtual timer: INTID 27. */
export const ARCH_TIMER_VIRT_PPI = 11;
/** EL2 virtual timer: INTID 28. */
export const ARCH_TIMER_NS_EL2_VIRT_PPI = 12;
/** Secure EL1 physical timer: INTID 29. */
export const ARCH_TIMER_S_EL1_PPI = 13;
/** Non-secure EL1 physical timer: INTID 30. */
export const ARCH_TIMER_NS_EL1_PPI = 14;
/** GIC virtual interface maintenance interrupt: INTID 25. */
export const ARCH_GIC_MAINT_PPI = 9;
/** PMU overflow interrupt: INTID 23. */
export const VIRTUAL_PMU_PPI = 7;

export const ARCH_TIMER_NS_EL2_INTID = GIC_PPI_BASE + ARCH_TIMER_NS_EL2_PPI;
export const ARCH_TIMER_VIRT_INTID = GIC_PPI_BASE + ARCH_TIMER_VIRT_PPI;
export const ARCH_TIMER_S_EL1_INTID = GIC_PPI_BASE + ARCH_TIMER_S_EL1_PPI;
export const ARCH_TIMER_NS_EL1_INTID = GIC_PPI_BASE + ARCH_TIMER_NS_EL1_PPI;

export const VIRT_UART_INTID = GIC_SPI_BASE + VIRT_UART_SPI;
export const VIRT_RTC_INTID = GIC_SPI_BASE + VIRT_RTC_SPI;

/** Frequency of the fixed 24 MHz APB clock that QEMU gives the PL011/PL031. */
export const VIRT_APB_PCLK_HZ = 24_000_000;

// ---------------------------------------------------------------------------
// Device-tree interrupt specifier encoding used by the GIC binding.

export const GIC_FDT_IRQ_TYPE_SPI = 0;
export const GIC_FDT_IRQ_TYPE_PPI = 1;
export const GIC_FDT_IRQ_FLAGS_EDGE_LO_HI = 1;
export const GIC_FDT_IRQ_FLAGS_LEVEL_HI = 4;
/** GICv2 PPI specifiers carry a CPU mask in bits 8..15 of the flags cell. */
export const GIC_FDT_IRQ_PPI_CPU_SHIFT = 8;
export const GIC_FDT_IRQ_PPI_CPU_WIDTH = 8;
