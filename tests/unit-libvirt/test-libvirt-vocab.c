/* unit: libvirt's vocabulary (libvirt/qt-libvirt-vocab.h) against what
 * libvirt 9.0.0 (Debian 9.0.0-4+deb12u2) and QEMU 7.2 did, without either.
 *
 * Evidence: libvirt's embedded QEMU driver, one domain per element with
 * <controller type='usb' model='none'/> and <memballoon model='none'/>
 * unless the row is about them:
 *   virsh -c 'qemu:///embed?root=R' 'domxml-to-native qemu-argv --xml D.xml'
 * (R/etc/qemu.conf: stdio_handler = "file", user = group = "root", or the
 * capabilities are probed again on every call), and for what libvirt adds,
 * 'define D.xml; dumpxml NAME' on a domain with only <emulator>.  The
 * -device driver each gave, q35 / pc / virt (aarch64) / pseries (ppc64):
 *
 * <interface> no <model>  rtl8139 / rtl8139 / virtio-net-pci / rtl8139
 *   virtio, -transitional, -non-transitional: virtio-net-pci[-transitional|
 *   -non-transitional] on all four; e1000, e1000e, rtl8139, vmxnet3,
 *   ne2k_pci, pcnet, i82559er, igb: that name on all four (QEMU 7.2 has
 *   no igb); ne2k_isa, lan9118: put on PCI all the same; spapr-vlan: no
 *   PCI address; usb-net: "Cannot automatically add a new PCI bus for a
 *   device with connect flags 00" (define fails too); type='vdpa':
 *   virtio-net-pci
 * <disk bus='virtio'> virtio-blk-pci[-transitional|-non-transitional];
 *   type='vhostuser': vhost-user-blk-pci; bus sata/scsi/ide/usb: ide-hd,
 *   scsi-hd... on their controllers (ide refused on q35, virt, pseries)
 * <controller type='usb'> qemu-xhci, nec-usb-xhci, piix3-usb-uhci,
 *   piix4-usb-uhci, usb-ehci, ich9-usb-ehci1 + ich9-usb-uhci1..3, pci-ohci
 *   on all four; vt82c686b-uhci "not supported in this QEMU binary" (x86,
 *   aarch64); no model: piix3-usb-uhci / piix3-usb-uhci / qemu-xhci /
 *   qemu-xhci
 * <controller type='scsi'> no model or 'auto': lsi / lsi / lsi /
 *   spapr-vscsi; virtio-scsi[-transitional|-non-transitional]:
 *   virtio-scsi-pci[...]; lsilogic: lsi; lsisas1068: mptsas1068;
 *   lsisas1078: megasas; vmpvscsi: pvscsi; am53c974: am53c974; dc390:
 *   dc-390 (QEMU's type is dc390); ibmvscsi: spapr-vscsi; buslogic:
 *   "Unsupported controller model"
 * <controller type='virtio-serial'> virtio-serial-pci[-transitional|...]
 * <controller type='sata'> index 0: nothing on q35 (00:1f.2 is the
 *   machine's), ahci on pc, virt, pseries; index 1: ahci everywhere
 * <controller type='ide' index='0'> nothing on pc; refused on q35, virt,
 *   pseries; fdc: nothing; ccid: usb-ccid
 * <memballoon> virtio[-transitional|-non-transitional]:
 *   virtio-balloon-pci[...]; <rng model='virtio*'> virtio-rng-pci[...]
 * <video> first: virtio: virtio-vga / virtio-vga / virtio-gpu-pci /
 *   virtio-gpu-pci; qxl: qxl-vga (refused on virt, pseries); vga: VGA;
 *   cirrus: cirrus-vga; bochs: bochs-display; vmvga: vmware-svga; ramfb:
 *   ramfb without a PCI address (refused on pseries); none: nothing.
 *   second: virtio: virtio-gpu-pci; qxl: qxl; vga, bochs: "only valid as
 *   primary video device"
 * <sound> ich6: intel-hda; ich9: ich9-intel-hda; ac97: AC97; es1370:
 *   ES1370; usb: usb-audio; sb16: sb16 (ISA); ich7: "Cannot automatically
 *   add a new PCI bus for a device with connect flags 00"
 * <watchdog> i6300esb: i6300esb; ib700: ib700 (ISA)
 * <hostdev type='pci'> <driver name='vfio'/>: vfio-pci; type='mdev'
 *   model='vfio-pci': vfio-pci (scsi_host and <interface type='hostdev'>
 *   could not be tried here: no /dev/vhost-scsi, no host device)
 * <vsock> no model, virtio[...]: vhost-vsock-pci[...]
 * <filesystem> 9p: virtio-9p-pci[-transitional]; virtiofs:
 *   vhost-user-fs-pci
 * <input bus='virtio'> keyboard, mouse, tablet, passthrough:
 *   virtio-keyboard-pci, virtio-mouse-pci, virtio-tablet-pci,
 *   virtio-input-host-pci; model='virtio-transitional': refused; evdev:
 *   no device
 * <shmem> ivshmem-plain, ivshmem-doorbell: that name; model ivshmem:
 *   "not supported with this QEMU binary"
 * <iommu model='virtio'> (with <acpi/>) virtio-iommu on q35; refused on
 *   pc, pseries; intel: intel-iommu, no PCI address
 * <memory> virtio-mem: virtio-mem-pci; virtio-pmem: virtio-pmem-pci
 *   (refused on aarch64); dimm: pc-dimm (refused on pseries: no
 *   virtio-mem-pci or virtio-pmem-pci in QEMU 7.2 ppc64)
 * <panic> default, isa: pvpanic (ISA) on x86; pseries on pseries;
 *   model='pvpanic': "unknown panic model 'pvpanic'"
 * <serial><target type='pci-serial'/> pci-serial; default: isa-serial /
 *   isa-serial / pl011 / spapr-vty
 * <crypto> dropped, no device; <tpm>, <nvram>, <smartcard>, <redirdev>,
 *   <hub>: none on PCI
 *
 * What define added (dumpxml), on a domain with no devices:
 *   q35: <controller type='usb' index='0' model='qemu-xhci'>, <controller
 *     type='sata' index='0'> at 00:1f.2, ps2 inputs, <memballoon
 *     model='virtio'>; + <video> cirrus with a <graphics>
 *   pc: <controller type='usb' index='0' model='piix3-uhci'>, ps2 inputs,
 *     <memballoon model='virtio'>; + cirrus with a <graphics>
 *   virt: nothing on PCI; + <video> virtio (virtio-gpu-pci) with a <graphics>
 *   pseries: <controller type='usb' index='0' model='qemu-xhci'>,
 *     <memballoon model='virtio'>, <panic model='pseries'>; with a
 *     <graphics> + <video> vga and USB keyboard and mouse
 *   all: <disk bus='scsi' dev='sdb'> adds SCSI controller 0 (lsilogic, or
 *     ibmvscsi on pseries); dev='sdh' on bus sata adds SATA controller 1
 *     (and 0, except on q35 which has it); a virtio <channel> or <console>
 *     adds virtio-serial controller 0; <controller type='usb'
 *     model='none'> and <memballoon model='none'> stop the defaults.
 *
 * The fallbacks for a binary that lacks a type (OLD_Q35 below: nec-xhci,
 * ich9-ehci1 and companions, e1000, VGA, the plain virtio type) follow the
 * source only: qemu.conf's capability_filters did not reach libvirt 9.0's
 * post-parse defaults (define still chose qemu-xhci, rtl8139, cirrus, and
 * validation then refused them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>

#include "qt-libvirt-vocab.h"

/* the device types of QEMU 7.2 (Debian bookworm) libvirt chooses between,
 * as -device help lists them for each binary: enough for every choice the
 * vocabulary makes */
static const char *const types_x86_64[] = {
    "rtl8139",
    "e1000",
    "virtio-net-pci",
    "virtio-net-pci-transitional",
    "virtio-net-pci-non-transitional",
    "virtio-blk-pci-transitional",
    "virtio-scsi-pci",
    "virtio-scsi-pci-transitional",
    "virtio-serial-pci-transitional",
    "virtio-balloon-pci-transitional",
    "virtio-rng-pci-transitional",
    "vhost-vsock-pci-transitional",
    "virtio-9p-pci-transitional",
    "piix3-usb-uhci",
    "qemu-xhci",
    "nec-usb-xhci",
    "ich9-usb-ehci1",
    "pci-ohci",
    "lsi53c895a",
    "cirrus-vga",
    "VGA",
    "virtio-vga",
    "virtio-vga-gl",
    "virtio-gpu-pci",
    "virtio-gpu-gl-pci",
    "vhost-user-vga",
    "vhost-user-gpu-pci",
    "qxl-vga",
    "qxl",
    NULL,
};
static const char *const types_aarch64[] = {
    "rtl8139",
    "e1000",
    "virtio-net-pci",
    "virtio-net-pci-transitional",
    "virtio-net-pci-non-transitional",
    "virtio-blk-pci-transitional",
    "virtio-scsi-pci",
    "virtio-scsi-pci-transitional",
    "virtio-serial-pci-transitional",
    "virtio-balloon-pci-transitional",
    "virtio-rng-pci-transitional",
    "vhost-vsock-pci-transitional",
    "virtio-9p-pci-transitional",
    "piix3-usb-uhci",
    "qemu-xhci",
    "nec-usb-xhci",
    "ich9-usb-ehci1",
    "pci-ohci",
    "lsi53c895a",
    "cirrus-vga",
    "VGA",
    "virtio-gpu-pci",
    "virtio-gpu-gl-pci",
    "vhost-user-gpu-pci",
    NULL,
};
static const char *const types_ppc64[] = {
    "rtl8139",
    "e1000",
    "virtio-net-pci",
    "virtio-net-pci-transitional",
    "virtio-net-pci-non-transitional",
    "virtio-blk-pci-transitional",
    "virtio-scsi-pci",
    "virtio-scsi-pci-transitional",
    "virtio-serial-pci-transitional",
    "virtio-balloon-pci-transitional",
    "virtio-rng-pci-transitional",
    "vhost-vsock-pci-transitional",
    "virtio-9p-pci-transitional",
    "piix3-usb-uhci",
    "qemu-xhci",
    "nec-usb-xhci",
    "ich9-usb-ehci1",
    "pci-ohci",
    "lsi53c895a",
    "cirrus-vga",
    "VGA",
    "virtio-gpu-pci",
    "virtio-gpu-gl-pci",
    "vhost-user-gpu-pci",
    "spapr-vscsi",
    NULL,
};
/* an x86_64 binary without xHCI, -transitional types, rtl8139 or cirrus:
 * libvirt's fallbacks */
static const char *const types_old_x86[] = {
    "e1000",
    "virtio-net-pci",
    "virtio-scsi-pci",
    "piix3-usb-uhci",
    "ich9-usb-ehci1",
    "lsi53c895a",
    "VGA",
    "virtio-vga",
    "virtio-gpu-pci",
    NULL,
};

static gboolean in_list(const char *type, gpointer data)
{
    for (const char *const *t = data; *t; t++)
        if (strcmp(*t, type) == 0)
            return TRUE;
    return FALSE;
}

enum { Q35, PC, VIRT, PSERIES, OLD_Q35, S390, NO_CALLBACK };

static const QtLibvirtContext contexts[] = {
    [Q35] = {"x86_64", TRUE, TRUE, in_list, (gpointer)types_x86_64},
    [PC] = {"x86_64", FALSE, TRUE, in_list, (gpointer)types_x86_64},
    [VIRT] = {"aarch64", TRUE, TRUE, in_list, (gpointer)types_aarch64},
    [PSERIES] = {"ppc64", FALSE, TRUE, in_list, (gpointer)types_ppc64},
    [OLD_Q35] = {"x86_64", TRUE, TRUE, in_list, (gpointer)types_old_x86},
    [S390] = {"s390x", FALSE, TRUE, in_list, (gpointer)types_x86_64},
    [NO_CALLBACK] = {"x86_64", TRUE, FALSE, NULL, NULL},
};

static const char *const context_names[] = {"q35",     "pc",    "virt",       "pseries",
                                            "old-q35", "s390x", "no-callback"};

#define P QT_LIBVIRT_PCI
#define N QT_LIBVIRT_NOT_PCI
#define U QT_LIBVIRT_UNMAPPED

typedef struct {
    const char *xml;
    gboolean first_video;
    /* per context Q35, PC, VIRT, PSERIES: the kind, and the type when PCI */
    QtLibvirtKind kind[4];
    const char *type[4];
} Row;

#define ALL(k, t)                                                                                  \
    {k, k, k, k},                                                                                  \
    {                                                                                              \
        t, t, t, t                                                                                 \
    }

/* the rows: each the virsh evidence above, for the four machines */
static const Row rows[] = {
    /* <interface> */
    {"<interface type='user'/>",
     FALSE,
     {P, P, P, P},
     {"rtl8139", "rtl8139", "virtio-net-pci", "rtl8139"}},
    {"<interface type='network'><model type='virtio'/></interface>", FALSE,
     ALL(P, "virtio-net-pci")},
    {"<interface type='user'><model type='virtio-transitional'/></interface>", FALSE,
     ALL(P, "virtio-net-pci-transitional")},
    {"<interface type='user'><model type='virtio-non-transitional'/></interface>", FALSE,
     ALL(P, "virtio-net-pci-non-transitional")},
    {"<interface type='user'><model type='e1000'/></interface>", FALSE, ALL(P, "e1000")},
    {"<interface type='user'><model type='e1000e'/></interface>", FALSE, ALL(P, "e1000e")},
    {"<interface type='user'><model type='rtl8139'/></interface>", FALSE, ALL(P, "rtl8139")},
    {"<interface type='user'><model type='vmxnet3'/></interface>", FALSE, ALL(P, "vmxnet3")},
    {"<interface type='user'><model type='igb'/></interface>", FALSE, ALL(P, "igb")},
    {"<interface type='user'><model type='ne2k_pci'/></interface>", FALSE, ALL(P, "ne2k_pci")},
    {"<interface type='user'><model type='pcnet'/></interface>", FALSE, ALL(P, "pcnet")},
    {"<interface type='user'><model type='i82559er'/></interface>", FALSE, ALL(P, "i82559er")},
    {"<interface type='user'><model type='ne2k_isa'/></interface>", FALSE, ALL(U, NULL)},
    {"<interface type='user'><model type='lan9118'/></interface>", FALSE, ALL(U, NULL)},
    {"<interface type='user'><model type='usb-net'/></interface>", FALSE, ALL(U, NULL)},
    {"<interface type='user'><model type='usb-net'/><address type='usb' bus='0' port='1'/>"
     "</interface>",
     FALSE, ALL(N, NULL)},
    {"<interface type='user'><model type='spapr-vlan'/></interface>", FALSE, ALL(N, NULL)},
    {"<interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/></interface>", FALSE,
     ALL(P, "virtio-net-pci")},
    {"<interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' "
     "bus='0x03' slot='0x10' function='0x1'/></source></interface>",
     FALSE, ALL(P, "vfio-pci")},
    {"<interface type='user'><model type='virtio'/><address type='virtio-mmio'/></interface>",
     FALSE, ALL(N, NULL)},
    /* <disk> */
    {"<disk type='file' device='disk'><target dev='vda' bus='virtio'/></disk>", FALSE,
     ALL(P, "virtio-blk-pci")},
    {"<disk type='file' device='disk'><target dev='vdb'/></disk>", FALSE, ALL(P, "virtio-blk-pci")},
    {"<disk type='file' device='disk' model='virtio-transitional'><target dev='vda' "
     "bus='virtio'/></disk>",
     FALSE, ALL(P, "virtio-blk-pci-transitional")},
    {"<disk type='file' device='disk' model='virtio-non-transitional'><target dev='vda' "
     "bus='virtio'/></disk>",
     FALSE, ALL(P, "virtio-blk-pci-non-transitional")},
    {"<disk type='vhostuser' device='disk'><source type='unix' path='/s'/><target dev='vda' "
     "bus='virtio'/></disk>",
     FALSE, ALL(P, "vhost-user-blk-pci")},
    {"<disk type='file' device='disk'><target dev='vda' bus='virtio'/><address "
     "type='virtio-mmio'/></disk>",
     FALSE, ALL(N, NULL)},
    {"<disk type='file' device='disk'><target dev='sda' bus='sata'/></disk>", FALSE, ALL(N, NULL)},
    {"<disk type='file' device='disk'><target dev='sda' bus='scsi'/></disk>", FALSE, ALL(N, NULL)},
    {"<disk type='file' device='disk'><target dev='sdb'/></disk>", FALSE, ALL(N, NULL)},
    {"<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>", FALSE, ALL(N, NULL)},
    {"<disk type='file' device='disk'><target dev='sda' bus='usb'/></disk>", FALSE, ALL(N, NULL)},
    /* <controller type='usb'> */
    {"<controller type='usb' index='0' model='qemu-xhci'/>", FALSE, ALL(P, "qemu-xhci")},
    {"<controller type='usb' index='0' model='nec-xhci'/>", FALSE, ALL(P, "nec-usb-xhci")},
    {"<controller type='usb' index='0' model='piix3-uhci'/>", FALSE, ALL(P, "piix3-usb-uhci")},
    {"<controller type='usb' index='0' model='piix4-uhci'/>", FALSE, ALL(P, "piix4-usb-uhci")},
    {"<controller type='usb' index='0' model='ehci'/>", FALSE, ALL(P, "usb-ehci")},
    {"<controller type='usb' index='0' model='ich9-ehci1'/>", FALSE, ALL(P, "ich9-usb-ehci1")},
    {"<controller type='usb' index='0' model='ich9-uhci1'><master startport='0'/></controller>",
     FALSE, ALL(P, "ich9-usb-uhci1")},
    {"<controller type='usb' index='0' model='ich9-uhci2'><master startport='2'/></controller>",
     FALSE, ALL(P, "ich9-usb-uhci2")},
    {"<controller type='usb' index='0' model='ich9-uhci3'><master startport='4'/></controller>",
     FALSE, ALL(P, "ich9-usb-uhci3")},
    {"<controller type='usb' index='0' model='pci-ohci'/>", FALSE, ALL(P, "pci-ohci")},
    {"<controller type='usb' index='0' model='vt82c686b-uhci'/>", FALSE,
     ALL(P, "vt82c686b-usb-uhci")},
    {"<controller type='usb' index='0'/>",
     FALSE,
     {P, P, P, P},
     {"piix3-usb-uhci", "piix3-usb-uhci", "qemu-xhci", "qemu-xhci"}},
    {"<controller type='usb' index='0' model='none'/>", FALSE, ALL(N, NULL)},
    {"<controller type='usb' index='0' model='qusb1'/>", FALSE, ALL(U, NULL)},
    /* <controller type='scsi'> */
    {"<controller type='scsi' index='0'/>",
     FALSE,
     {P, P, P, N},
     {"lsi53c895a", "lsi53c895a", "lsi53c895a", NULL}},
    {"<controller type='scsi' index='0' model='auto'/>",
     FALSE,
     {P, P, P, N},
     {"lsi53c895a", "lsi53c895a", "lsi53c895a", NULL}},
    {"<controller type='scsi' index='0' model='virtio-scsi'/>", FALSE, ALL(P, "virtio-scsi-pci")},
    {"<controller type='scsi' index='0' model='virtio-transitional'/>", FALSE,
     ALL(P, "virtio-scsi-pci-transitional")},
    {"<controller type='scsi' index='0' model='virtio-non-transitional'/>", FALSE,
     ALL(P, "virtio-scsi-pci-non-transitional")},
    {"<controller type='scsi' index='0' model='lsilogic'/>", FALSE, ALL(P, "lsi53c895a")},
    {"<controller type='scsi' index='0' model='lsisas1068'/>", FALSE, ALL(P, "mptsas1068")},
    {"<controller type='scsi' index='0' model='lsisas1078'/>", FALSE, ALL(P, "megasas")},
    {"<controller type='scsi' index='0' model='vmpvscsi'/>", FALSE, ALL(P, "pvscsi")},
    {"<controller type='scsi' index='0' model='am53c974'/>", FALSE, ALL(P, "am53c974")},
    {"<controller type='scsi' index='0' model='dc390'/>", FALSE, ALL(P, "dc-390")},
    {"<controller type='scsi' index='0' model='ibmvscsi'/>", FALSE, ALL(N, NULL)},
    {"<controller type='scsi' index='0' model='buslogic'/>", FALSE, ALL(U, NULL)},
    /* the other controllers */
    {"<controller type='virtio-serial' index='0'/>", FALSE, ALL(P, "virtio-serial-pci")},
    {"<controller type='virtio-serial' index='0' model='virtio-transitional'/>", FALSE,
     ALL(P, "virtio-serial-pci-transitional")},
    {"<controller type='sata' index='0'/>",
     FALSE,
     {N, P, P, P},
     {NULL, "ich9-ahci", "ich9-ahci", "ich9-ahci"}},
    {"<controller type='sata' index='1'/>", FALSE, ALL(P, "ich9-ahci")},
    {"<controller type='ide' index='0'/>", FALSE, {U, N, U, U}, {NULL, NULL, NULL, NULL}},
    {"<controller type='fdc' index='0'/>", FALSE, ALL(N, NULL)},
    {"<controller type='ccid' index='0'/>", FALSE, ALL(N, NULL)},
    {"<controller type='xenbus' index='0'/>", FALSE, ALL(N, NULL)},
    {"<controller type='pci' index='0' model='pcie-root'/>", FALSE, ALL(N, NULL)},
    /* <memballoon>, <rng> */
    {"<memballoon model='virtio'/>", FALSE, ALL(P, "virtio-balloon-pci")},
    {"<memballoon model='virtio-transitional'/>", FALSE, ALL(P, "virtio-balloon-pci-transitional")},
    {"<memballoon model='virtio-non-transitional'/>", FALSE,
     ALL(P, "virtio-balloon-pci-non-transitional")},
    {"<memballoon model='none'/>", FALSE, ALL(N, NULL)},
    {"<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>", FALSE,
     ALL(P, "virtio-rng-pci")},
    {"<rng model='virtio-transitional'><backend model='random'/></rng>", FALSE,
     ALL(P, "virtio-rng-pci-transitional")},
    /* <video> */
    {"<video><model type='virtio'/></video>",
     TRUE,
     {P, P, P, P},
     {"virtio-vga", "virtio-vga", "virtio-gpu-pci", "virtio-gpu-pci"}},
    {"<video><model type='virtio'/></video>", FALSE, ALL(P, "virtio-gpu-pci")},
    {"<video><model type='virtio' primary='yes'/></video>",
     FALSE,
     {P, P, P, P},
     {"virtio-vga", "virtio-vga", "virtio-gpu-pci", "virtio-gpu-pci"}},
    {"<video><model type='virtio'><acceleration accel3d='yes'/></model></video>",
     TRUE,
     {P, P, P, P},
     {"virtio-vga-gl", "virtio-vga-gl", "virtio-gpu-gl-pci", "virtio-gpu-gl-pci"}},
    {"<video><driver name='vhostuser'/><model type='virtio'/></video>",
     TRUE,
     {P, P, P, P},
     {"vhost-user-vga", "vhost-user-vga", "vhost-user-gpu-pci", "vhost-user-gpu-pci"}},
    {"<video><model type='qxl'/></video>", TRUE, ALL(P, "qxl-vga")},
    {"<video><model type='qxl'/></video>", FALSE, ALL(P, "qxl")},
    {"<video><model type='vga'/></video>", TRUE, ALL(P, "VGA")},
    {"<video><model type='vga'/></video>", FALSE, ALL(U, NULL)},
    {"<video><model type='cirrus'/></video>", TRUE, ALL(P, "cirrus-vga")},
    {"<video><model type='bochs'/></video>", TRUE, ALL(P, "bochs-display")},
    {"<video><model type='bochs'/></video>", FALSE, ALL(U, NULL)},
    {"<video><model type='vmvga'/></video>", TRUE, ALL(P, "vmware-svga")},
    {"<video><model type='ramfb'/></video>", TRUE, ALL(N, NULL)},
    {"<video><model type='none'/></video>", TRUE, ALL(N, NULL)},
    {"<video/>", TRUE, {P, P, P, P}, {"cirrus-vga", "cirrus-vga", "virtio-gpu-pci", "VGA"}},
    /* <sound> */
    {"<sound model='ich6'/>", FALSE, ALL(P, "intel-hda")},
    {"<sound model='ich9'/>", FALSE, ALL(P, "ich9-intel-hda")},
    {"<sound model='ac97'/>", FALSE, ALL(P, "AC97")},
    {"<sound model='es1370'/>", FALSE, ALL(P, "ES1370")},
    {"<sound model='ich7'/>", FALSE, ALL(U, NULL)},
    {"<sound model='usb'/>", FALSE, ALL(N, NULL)},
    {"<sound model='sb16'/>", FALSE, ALL(N, NULL)},
    {"<sound model='pcspk'/>", FALSE, ALL(N, NULL)},
    /* <watchdog> */
    {"<watchdog model='i6300esb' action='reset'/>", FALSE, ALL(P, "i6300esb")},
    {"<watchdog model='ib700'/>", FALSE, ALL(N, NULL)},
    {"<watchdog model='diag288'/>", FALSE, ALL(N, NULL)},
    {"<watchdog model='itco'/>", FALSE, ALL(N, NULL)},
    /* <hostdev> */
    {"<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' "
     "bus='0x06' slot='0x02' function='0x0'/></source></hostdev>",
     FALSE, ALL(P, "vfio-pci")},
    {"<hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/><source>"
     "<address domain='0x0000' bus='0x06' slot='0x02' function='0x0'/></source>"
     "<address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/></hostdev>",
     FALSE, ALL(P, "vfio-pci")},
    {"<hostdev mode='subsystem' type='pci' managed='yes'><driver name='kvm'/><source><address "
     "domain='0x0000' bus='0x06' slot='0x02' function='0x0'/></source></hostdev>",
     FALSE, ALL(U, NULL)},
    {"<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' "
     "bus='0x06' slot='0x02' function='0x0'/></source><address type='unassigned'/></hostdev>",
     FALSE, ALL(N, NULL)},
    {"<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address "
     "uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>",
     FALSE, ALL(P, "vfio-pci")},
    {"<hostdev mode='subsystem' type='scsi_host'><source protocol='vhost' "
     "wwpn='naa.5001405df3e54061'/></hostdev>",
     FALSE, ALL(P, "vhost-scsi-pci")},
    {"<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product "
     "id='0xbeef'/></source></hostdev>",
     FALSE, ALL(N, NULL)},
    {"<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address "
     "bus='0' target='0' unit='0'/></source></hostdev>",
     FALSE, ALL(N, NULL)},
    /* <vsock>, <filesystem>, <input> */
    {"<vsock><cid auto='yes'/></vsock>", FALSE, ALL(P, "vhost-vsock-pci")},
    {"<vsock model='virtio-transitional'><cid auto='yes'/></vsock>", FALSE,
     ALL(P, "vhost-vsock-pci-transitional")},
    {"<filesystem type='mount' accessmode='passthrough'><source dir='/tmp'/><target dir='t'/>"
     "</filesystem>",
     FALSE, ALL(P, "virtio-9p-pci")},
    {"<filesystem type='mount' accessmode='passthrough' model='virtio-transitional'><driver "
     "type='path'/><source dir='/tmp'/><target dir='t'/></filesystem>",
     FALSE, ALL(P, "virtio-9p-pci-transitional")},
    {"<filesystem type='mount'><driver type='virtiofs'/><source dir='/tmp'/><target dir='t'/>"
     "</filesystem>",
     FALSE, ALL(P, "vhost-user-fs-pci")},
    {"<input type='keyboard' bus='virtio'/>", FALSE, ALL(P, "virtio-keyboard-pci")},
    {"<input type='mouse' bus='virtio'/>", FALSE, ALL(P, "virtio-mouse-pci")},
    {"<input type='tablet' bus='virtio'/>", FALSE, ALL(P, "virtio-tablet-pci")},
    {"<input type='passthrough' bus='virtio'><source evdev='/dev/input/event1'/></input>", FALSE,
     ALL(P, "virtio-input-host-pci")},
    {"<input type='keyboard' bus='virtio' model='virtio-transitional'/>", FALSE, ALL(U, NULL)},
    {"<input type='tablet' bus='usb'/>", FALSE, ALL(N, NULL)},
    {"<input type='mouse' bus='ps2'/>", FALSE, ALL(N, NULL)},
    {"<input type='evdev'><source dev='/dev/input/event1'/></input>", FALSE, ALL(N, NULL)},
    /* <shmem>, <iommu>, <memory> */
    {"<shmem name='a'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>", FALSE,
     ALL(P, "ivshmem-plain")},
    {"<shmem name='b'><model type='ivshmem-doorbell'/><server path='/tmp/s'/></shmem>", FALSE,
     ALL(P, "ivshmem-doorbell")},
    {"<shmem name='c'><size unit='M'>4</size></shmem>", FALSE, ALL(P, "ivshmem")},
    {"<iommu model='virtio'/>",
     FALSE,
     {P, U, P, U},
     {"virtio-iommu-pci", NULL, "virtio-iommu-pci", NULL}},
    {"<iommu model='intel'/>", FALSE, ALL(N, NULL)},
    {"<iommu model='smmuv3'/>", FALSE, ALL(N, NULL)},
    {"<memory model='virtio-mem'><target><size unit='MiB'>1024</size><node>0</node><block "
     "unit='MiB'>2</block><requested unit='MiB'>0</requested></target></memory>",
     FALSE, ALL(P, "virtio-mem-pci")},
    {"<memory model='virtio-pmem' access='shared'><source><path>/p</path></source><target><size "
     "unit='MiB'>128</size></target></memory>",
     FALSE, ALL(P, "virtio-pmem-pci")},
    {"<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>",
     FALSE, ALL(N, NULL)},
    /* <panic>, <serial>, <crypto> */
    {"<panic/>", FALSE, ALL(N, NULL)},
    {"<panic model='isa'/>", FALSE, ALL(N, NULL)},
    {"<panic model='pseries'/>", FALSE, ALL(N, NULL)},
    {"<panic model='hyperv'/>", FALSE, ALL(N, NULL)},
    {"<panic model='pvpanic'/>", FALSE, ALL(U, NULL)},
    {"<serial type='pty'><target type='pci-serial'/></serial>", FALSE, ALL(P, "pci-serial")},
    {"<serial type='pty'/>", FALSE, ALL(N, NULL)},
    {"<serial type='pty'><target type='isa-serial' port='0'/></serial>", FALSE, ALL(N, NULL)},
    {"<crypto model='virtio' type='qemu'><backend model='builtin' queues='1'/></crypto>", FALSE,
     ALL(U, NULL)},
    /* never on PCI */
    {"<emulator>/usr/bin/qemu-system-x86_64</emulator>", FALSE, ALL(N, NULL)},
    {"<graphics type='vnc'/>", FALSE, ALL(N, NULL)},
    {"<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>", FALSE,
     ALL(N, NULL)},
    {"<console type='pty'><target type='virtio'/></console>", FALSE, ALL(N, NULL)},
    {"<redirdev bus='usb' type='spicevmc'/>", FALSE, ALL(N, NULL)},
    {"<smartcard mode='host'/>", FALSE, ALL(N, NULL)},
    {"<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>", FALSE, ALL(N, NULL)},
    {"<nvram/>", FALSE, ALL(N, NULL)},
    {"<hub type='usb'/>", FALSE, ALL(N, NULL)},
    {"<lease><lockspace>s</lockspace><key>k</key><target path='/p'/></lease>", FALSE, ALL(N, NULL)},
    {"<audio id='1' type='none'/>", FALSE, ALL(N, NULL)},
    {"<teleporter/>", FALSE, ALL(U, NULL)},
};

static xmlDocPtr parse(const char *xml)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "test.xml", NULL, XML_PARSE_NONET);

    if (doc == NULL)
        fail_msg("not XML: %s", xml);
    return doc;
}

/* @xml inside <devices>; the element is the first child */
static QtLibvirtKind classify(int c, const char *xml, gboolean first_video, char **driver,
                              char **why)
{
    g_autofree char *text = g_strdup_printf("<devices>%s</devices>", xml);
    xmlDocPtr doc = parse(text);
    QtLibvirtKind kind;

    kind = qt_libvirt_device_type(xmlDocGetRootElement(doc)->children, &contexts[c], first_video,
                                  driver, why);
    xmlFreeDoc(doc);
    return kind;
}

static const char *kind_name(QtLibvirtKind k)
{
    return k == P ? "PCI" : k == N ? "NOT_PCI" : "UNMAPPED";
}

static void check(int c, const char *xml, gboolean first_video, QtLibvirtKind kind,
                  const char *type)
{
    g_autofree char *driver = NULL;
    g_autofree char *why = NULL;
    QtLibvirtKind got = classify(c, xml, first_video, &driver, &why);

    if (got != kind || g_strcmp0(driver, type) != 0)
        fail_msg("%s: %s (first_video %d): %s %s, expected %s %s", context_names[c], xml,
                 first_video, kind_name(got), driver ? driver : "", kind_name(kind),
                 type ? type : "");
    /* a reason exactly when unmapped */
    if ((got == U) != (why != NULL))
        fail_msg("%s: %s: kind %s with why '%s'", context_names[c], xml, kind_name(got),
                 why ? why : "(none)");
}

static void test_table(void **state)
{
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++)
        for (int c = Q35; c <= PSERIES; c++)
            check(c, rows[i].xml, rows[i].first_video, rows[i].kind[c], rows[i].type[c]);
}

/* where libvirt chooses by what the binary has, and what no callback means */
static void test_capabilities(void **state)
{
    /* no -transitional types: the plain one; the non-transitional one is
     * named all the same (libvirt refuses) */
    check(OLD_Q35, "<interface type='user'><model type='virtio-transitional'/></interface>", FALSE,
          P, "virtio-net-pci");
    check(OLD_Q35, "<interface type='user'><model type='virtio-non-transitional'/></interface>",
          FALSE, P, "virtio-net-pci-non-transitional");
    /* no rtl8139: e1000 */
    check(OLD_Q35, "<interface type='user'/>", FALSE, P, "e1000");
    /* no cirrus-vga: VGA */
    check(OLD_Q35, "<video/>", TRUE, P, "VGA");
    /* no virtio-vga-gl: virtio-vga */
    check(OLD_Q35, "<video><model type='virtio'><acceleration accel3d='yes'/></model></video>",
          TRUE, P, "virtio-vga");
    /* a binary with none of libvirt's choices: no default to give */
    {
        static const char *const nothing[] = {NULL};
        QtLibvirtContext bare = {"x86_64", TRUE, TRUE, in_list, (gpointer)nothing};
        const char *const none_fits[] = {
            "<controller type='scsi' index='0' model='auto'/>",
            "<controller type='scsi' index='0'/>",
            "<controller type='usb' index='0'/>",
            "<video/>",
        };
        for (gsize i = 0; i < G_N_ELEMENTS(none_fits); i++) {
            g_autofree char *text = g_strdup_printf("<devices>%s</devices>", none_fits[i]);
            xmlDocPtr doc = parse(text);
            g_autofree char *driver = NULL;
            g_autofree char *why = NULL;
            if (qt_libvirt_device_type(xmlDocGetRootElement(doc)->children, &bare, TRUE, &driver,
                                       &why) != U ||
                driver != NULL || why == NULL)
                fail_msg("%s: not unmapped without any type", none_fits[i]);
            xmlFreeDoc(doc);
        }
    }
    /* without a callback, libvirt's first choice */
    check(NO_CALLBACK, "<interface type='user'/>", FALSE, P, "rtl8139");
    check(NO_CALLBACK, "<video><model type='virtio'/></video>", TRUE, P, "virtio-vga");
    check(NO_CALLBACK,
          "<disk type='file' device='disk' model='virtio-transitional'><target "
          "dev='vda' bus='virtio'/></disk>",
          FALSE, P, "virtio-blk-pci-transitional");
}

/* the bus virtio devices take: ccw on s390, virtio-mmio on arm virt when
 * one device already has it, or without a PCI Express root */
static void test_virtio_bus(void **state)
{
    QtLibvirtContext vexpress = {"armv7l", FALSE, FALSE, NULL, NULL};
    g_autofree char *driver = NULL;
    g_autofree char *why = NULL;
    xmlDocPtr doc;
    xmlNodePtr devices;

    check(S390, "<interface type='user'/>", FALSE, N, NULL);
    check(S390, "<disk type='file' device='disk'><target dev='vda' bus='virtio'/></disk>", FALSE, N,
          NULL);
    check(S390, "<memballoon model='virtio'/>", FALSE, N, NULL);
    check(S390, "<controller type='usb' index='0'/>", FALSE, N, NULL);
    /* zPCI: a PCI address puts it on PCI */
    check(S390,
          "<interface type='user'><model type='virtio'/><address type='pci' domain='0x0000' "
          "bus='0x00' slot='0x01' function='0x0'/></interface>",
          FALSE, P, "virtio-net-pci");
    check(VIRT, "<rng model='virtio'><backend model='random'/><address type='virtio-mmio'/></rng>",
          FALSE, N, NULL);

    /* a virtio-mmio device keeps the rest of an arm virt guest off PCI */
    doc = parse("<devices><rng model='virtio'><backend model='random'/></rng><disk type='file' "
                "device='disk'><target dev='vda' bus='virtio'/><address type='virtio-mmio'/>"
                "</disk><controller type='usb' model='qemu-xhci'/></devices>");
    devices = xmlDocGetRootElement(doc);
    assert_int_equal(
        qt_libvirt_device_type(devices->children, &contexts[VIRT], FALSE, &driver, &why), N);
    /* ...but not a device that is not virtio */
    assert_int_equal(qt_libvirt_device_type(devices->children->next->next, &contexts[VIRT], FALSE,
                                            &driver, &why),
                     P);
    assert_string_equal(driver, "qemu-xhci");
    xmlFreeDoc(doc);

    /* a non-virt arm board: virtio-mmio, and no PCI NIC by default */
    g_clear_pointer(&driver, g_free);
    doc = parse("<devices><interface type='user'/><memballoon model='virtio'/></devices>");
    devices = xmlDocGetRootElement(doc);
    assert_int_equal(qt_libvirt_device_type(devices->children, &vexpress, FALSE, &driver, &why), U);
    assert_non_null(why);
    g_clear_pointer(&why, g_free);
    assert_int_equal(
        qt_libvirt_device_type(devices->children->next, &vexpress, FALSE, &driver, &why), N);
    xmlFreeDoc(doc);
}

/* primary='yes' on a later <video> takes the primary role from the first;
 * a SATA controller without an index takes the lowest free one */
static void test_siblings(void **state)
{
    g_autofree char *driver = NULL;
    xmlDocPtr doc = parse("<devices><video><model type='virtio'/></video><video><model "
                          "type='qxl' primary='yes'/></video><controller type='sata' index='0'/>"
                          "<controller type='sata'/></devices>");
    xmlNodePtr first = xmlDocGetRootElement(doc)->children;

    assert_int_equal(qt_libvirt_device_type(first, &contexts[Q35], TRUE, &driver, NULL), P);
    assert_string_equal(driver, "virtio-gpu-pci");
    g_clear_pointer(&driver, g_free);
    assert_int_equal(qt_libvirt_device_type(first->next, &contexts[Q35], FALSE, &driver, NULL), P);
    assert_string_equal(driver, "qxl-vga");
    g_clear_pointer(&driver, g_free);
    /* index 0 is q35's own; the one without an index is 1 */
    assert_int_equal(
        qt_libvirt_device_type(first->next->next, &contexts[Q35], FALSE, &driver, NULL), N);
    assert_int_equal(
        qt_libvirt_device_type(first->next->next->next, &contexts[Q35], FALSE, &driver, NULL), P);
    assert_string_equal(driver, "ich9-ahci");
    xmlFreeDoc(doc);
}

/* what libvirt adds: "element:qemu-type" for each, in order */
static char *implicit(int c, const char *machine, const char *devices_xml)
{
    g_autofree char *text = g_strdup_printf("<devices>%s</devices>", devices_xml);
    xmlDocPtr doc = parse(text);
    g_autoptr(GPtrArray) added =
        qt_libvirt_implicit_devices(xmlDocGetRootElement(doc), machine, &contexts[c]);
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < added->len; i++) {
        xmlNodePtr el = added->pdata[i];
        g_autofree char *driver = NULL;
        /* each is unlinked, and the vocabulary maps it to PCI */
        assert_null(el->parent);
        assert_int_equal(qt_libvirt_device_type(el, &contexts[c], FALSE, &driver, NULL), P);
        g_string_append_printf(s, "%s%s:%s", i ? " " : "", (const char *)el->name, driver);
    }
    xmlFreeDoc(doc);
    return g_string_free(s, FALSE);
}

static void expect_implicit(int c, const char *machine, const char *devices_xml,
                            const char *expected)
{
    g_autofree char *got = implicit(c, machine, devices_xml);

    if (strcmp(got, expected) != 0)
        fail_msg("%s %s: %s added '%s', expected '%s'", context_names[c], machine, devices_xml, got,
                 expected);
}

#define GRAPHICS    "<graphics type='vnc'/>"
#define SCSI_DISK   "<disk type='file' device='disk'><target dev='sdb' bus='scsi'/></disk>"
#define SATA_DISK_H "<disk type='file' device='disk'><target dev='sdh' bus='sata'/></disk>"
#define CHANNEL                                                                                    \
    "<channel type='pty'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
#define NO_DEFAULTS "<controller type='usb' model='none'/><memballoon model='none'/>"

static void test_implicit(void **state)
{
    /* q35: qemu-xhci and the balloon (the SATA controller is the machine's) */
    expect_implicit(Q35, "pc-q35-7.2", "", "controller:qemu-xhci memballoon:virtio-balloon-pci");
    expect_implicit(Q35, "q35", GRAPHICS,
                    "controller:qemu-xhci memballoon:virtio-balloon-pci video:cirrus-vga");
    expect_implicit(Q35, "q35", SCSI_DISK,
                    "controller:qemu-xhci memballoon:virtio-balloon-pci controller:lsi53c895a");
    expect_implicit(Q35, "q35", SATA_DISK_H,
                    "controller:qemu-xhci memballoon:virtio-balloon-pci controller:ich9-ahci");
    expect_implicit(Q35, "q35", CHANNEL,
                    "controller:qemu-xhci memballoon:virtio-balloon-pci "
                    "controller:virtio-serial-pci");
    expect_implicit(Q35, "q35", NO_DEFAULTS, "");
    /* a USB controller without an index is index 0; a <video> stops the implicit one */
    expect_implicit(Q35, "q35",
                    "<controller type='usb' model='nec-xhci'/>" GRAPHICS
                    "<video><model type='qxl'/></video>",
                    "memballoon:virtio-balloon-pci");
    /* USB2 when the binary has no xHCI: ich9-ehci1 and its companions */
    expect_implicit(OLD_Q35, "q35", "<memballoon model='none'/>",
                    "controller:ich9-usb-ehci1 controller:ich9-usb-uhci1 "
                    "controller:ich9-usb-uhci2 controller:ich9-usb-uhci3");

    /* pc: piix3-uhci; SATA 0 is added and is PCI */
    expect_implicit(PC, "pc-i440fx-7.2", "",
                    "controller:piix3-usb-uhci memballoon:virtio-balloon-pci");
    expect_implicit(PC, "pc",
                    GRAPHICS "<disk type='file' device='disk'><target dev='sdb' "
                             "bus='sata'/></disk>",
                    "controller:piix3-usb-uhci memballoon:virtio-balloon-pci "
                    "controller:ich9-ahci video:cirrus-vga");
    expect_implicit(PC, "pc", SATA_DISK_H,
                    "controller:piix3-usb-uhci memballoon:virtio-balloon-pci "
                    "controller:ich9-ahci controller:ich9-ahci");
    /* the IDE controller is the machine's own */
    expect_implicit(PC, "pc", "<disk type='file' device='cdrom'><target dev='hdc'/></disk>",
                    "controller:piix3-usb-uhci memballoon:virtio-balloon-pci");
    expect_implicit(PC, "isapc", "", "memballoon:virtio-balloon-pci");

    /* virt: no USB controller, no balloon */
    expect_implicit(VIRT, "virt", "", "");
    expect_implicit(VIRT, "virt-7.2", GRAPHICS, "video:virtio-gpu-pci");
    expect_implicit(VIRT, "virt", SCSI_DISK, "controller:lsi53c895a");
    expect_implicit(VIRT, "virt", SATA_DISK_H, "controller:ich9-ahci controller:ich9-ahci");
    expect_implicit(VIRT, "virt", CHANNEL, "controller:virtio-serial-pci");

    /* pseries: qemu-xhci, the balloon; SCSI is ibmvscsi, on spapr-vio */
    expect_implicit(PSERIES, "pseries", "", "controller:qemu-xhci memballoon:virtio-balloon-pci");
    expect_implicit(PSERIES, "pseries-7.2", GRAPHICS,
                    "controller:qemu-xhci memballoon:virtio-balloon-pci video:VGA");
    expect_implicit(PSERIES, "pseries", SCSI_DISK,
                    "controller:qemu-xhci memballoon:virtio-balloon-pci");
    expect_implicit(PSERIES, "pseries",
                    "<controller type='usb' index='0' model='none'/><memballoon model='none'/>"
                    "<console type='pty'><target type='virtio'/></console>",
                    "controller:virtio-serial-pci");

    /* s390: the balloon and virtio-serial go on ccw */
    expect_implicit(S390, "s390-ccw-virtio", CHANNEL, "");
}

/* the elements returned are the caller's to link or free, and a domain
 * with no <devices> gets an empty array */
static void test_implicit_shape(void **state)
{
    g_autoptr(GPtrArray) none = qt_libvirt_implicit_devices(NULL, "q35", &contexts[Q35]);
    xmlDocPtr doc = parse("<devices/>");
    g_autoptr(GPtrArray) added =
        qt_libvirt_implicit_devices(xmlDocGetRootElement(doc), NULL, &contexts[PC]);
    xmlNodePtr usb;

    assert_non_null(none);
    assert_int_equal(none->len, 0);
    /* without a machine name: x86 still gets the USB default and balloon */
    assert_int_equal(added->len, 2);
    usb = added->pdata[0];
    assert_string_equal((const char *)usb->name, "controller");
    assert_true(xmlHasProp(usb, BAD_CAST "index") != NULL);
    /* linking one is the caller's: the array must not free it then */
    added->pdata[0] = NULL;
    xmlAddChild(xmlDocGetRootElement(doc), usb);
    xmlFreeDoc(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),      cmocka_unit_test(test_capabilities),
        cmocka_unit_test(test_virtio_bus), cmocka_unit_test(test_siblings),
        cmocka_unit_test(test_implicit),   cmocka_unit_test(test_implicit_shape),
    };

    xmlInitParser();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
