/* libvirt's vocabulary, in one reviewed place (qt-libvirt-vocab.c): which
 * QEMU device type libvirt 9.0 (Debian bookworm's 9.0.0) creates on PCI for
 * a child element of a domain's <devices>, and what it adds to <devices> by
 * itself.  Each rule names the libvirt function and documentation page it
 * encodes; tests/unit-libvirt/test-libvirt-vocab.c holds what virsh
 * domxml-to-native and dumpxml showed for x86_64 q35/pc, aarch64 virt and
 * ppc64 pseries with QEMU 7.2.
 *
 * The types named are QEMU's own names, as the binary lists them: where
 * libvirt writes an alias on the command line ("lsi", "ahci",
 * "virtio-iommu") the type it stands for is named instead.  When libvirt
 * chooses by what the binary has (qemu-xhci or nec-usb-xhci, virtio-vga or
 * virtio-gpu-pci, a -transitional type) the context's callback is asked;
 * when a fixed choice names a type the binary lacks, that type is named all
 * the same (libvirt would fail, and so should the caller). */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

typedef struct {
    const char *arch;   /* <os><type arch=...>: "x86_64", "i686", "aarch64", "ppc64", "ppc64le",
                           "s390x", "riscv64"... */
    gboolean pcie_root; /* the machine's main root bus is PCI Express (q35, arm/riscv virt):
                           decides PCI-vs-PCIe defaults */
    gboolean has_type;  /* callback below is set */
    /* does the QEMU binary have this device type?  (libvirt chooses by capability,
     * e.g. qemu-xhci vs nec-xhci, virtio-*-transitional); without it every type
     * is taken as present, so libvirt's first choice is made */
    gboolean (*has_type_fn)(const char *qemu_type, gpointer data);
    gpointer has_type_data;
} QtLibvirtContext;

typedef enum {
    QT_LIBVIRT_PCI,      /* the element is a PCI device: *driver is its QEMU type */
    QT_LIBVIRT_NOT_PCI,  /* the element takes no PCI address (<disk bus='sata'>, <input bus='ps2'>,
                            <graphics>, <emulator>, <serial type='pty'> without <target
                            type='pci-serial'>, <controller type='pci'> (handled by the caller),
                            a device the machine builds in...): left alone, not listed */
    QT_LIBVIRT_UNMAPPED, /* it may be a PCI device but this vocabulary cannot say which type:
                          *why says what, for the reply */
} QtLibvirtKind;

/* @el: a child element of <devices>; @first_video: for <video>, whether it is the first <video>
 * of the domain (libvirt makes the primary one a VGA-compatible type: virtio-vga / qxl-vga
 * where the architecture has VGA; a <model primary='yes'> makes its <video> the primary
 * one whatever its place).  @driver and @why (either may be NULL) are set to newly allocated
 * strings, or to NULL: *driver for QT_LIBVIRT_PCI, *why for QT_LIBVIRT_UNMAPPED.
 *
 * The machine is known here only by @ctx: a PCI Express root on x86 is q35's, an arm or
 * riscv machine with one is "virt", and a ppc64 machine is pseries (the only one libvirt
 * models: qemuDomainIsPSeries). */
QtLibvirtKind qt_libvirt_device_type(xmlNodePtr el, const QtLibvirtContext *ctx,
                                     gboolean first_video, char **driver, char **why);

/* what libvirt 9.0 adds by itself, on the PCI side, to a QEMU domain of @ctx's architecture
 * when <devices> (@devices) lacks it (src/qemu/qemu_domain.c: qemuDomainDefAddDefaultDevices,
 * src/conf/domain_conf.c: virDomainDefAddImplicitDevices): e.g. <memballoon model='virtio'/>,
 * a default <controller type='usb' index='0' model='...'/>, the SCSI and SATA controllers
 * disks name, the virtio-serial controller a virtio <channel> needs, the <video> a
 * <graphics> implies.  Returns new, unlinked element nodes (the caller links them into
 * <devices> and addresses them), in libvirt's order; an empty array when libvirt would add
 * nothing on PCI.  Only what takes a PCI address, and only when libvirt really adds it for
 * that arch and machine (@machine: the <os><type machine=...> value, may be NULL).  Each
 * element returned is one qt_libvirt_device_type() maps to PCI with the same @ctx. */
GPtrArray *qt_libvirt_implicit_devices(xmlNodePtr devices, const char *machine,
                                       const QtLibvirtContext *ctx);

/* the address libvirt insists on for @el, made a @driver, on the machine's
 * root bus (bus 0): TRUE with @slot and @function set; FALSE when libvirt
 * lets it go anywhere */
gboolean qt_libvirt_fixed_address(xmlNodePtr el, const char *driver, int *slot, int *function);

/* the <controller type=...> libvirt makes of the machine's built-in device
 * of QEMU type @qemu_type (index 0, at the device's address), or NULL;
 * @always: libvirt adds it to every domain of the machine, else only when
 * a disk needs it */
const char *qt_libvirt_builtin_controller(const char *qemu_type, gboolean *always);

/* the QEMU binary libvirt looks for when a domain of architecture @arch
 * names no <emulator> */
char *qt_libvirt_binary_for_arch(const char *arch);

G_END_DECLS
