/* libvirt 9.0's vocabulary: domain XML device elements -> the QEMU device
 * types libvirt creates for them on PCI, and the devices it adds by itself.
 *
 * Reference: libvirt 9.0.0 (Debian 9.0.0-4+deb12u2 source), read for facts:
 *   src/qemu/qemu_command.c        how each element becomes a -device
 *   src/qemu/qemu_domain.c         defaults (qemuDomain*PostParse) and
 *                                  qemuDomainDefAddDefaultDevices
 *   src/qemu/qemu_domain_address.c which elements take a PCI address
 *                                  (qemuDomainDeviceCalculatePCIConnectFlags)
 *                                  and on which bus virtio devices go
 *   src/conf/domain_conf.c,
 *   src/conf/domain_postparse.c    implicit controllers and video
 *   docs/formatdomain.rst          the elements (https://libvirt.org/formatdomain.html)
 * Newer libvirt moved the defaults into src/qemu/qemu_postparse.c; where it
 * differs from 9.0 for an element here, the rule says so.
 *
 * Every mapping was checked with libvirt 9.0's embedded QEMU driver and
 * QEMU 7.2 (virsh domxml-to-native qemu-argv, define + dumpxml); the
 * evidence is at the top of tests/unit-libvirt/test-libvirt-vocab.c. */
#include "qt-libvirt-vocab.h"
#include "qt-xml.h"

#include <stdarg.h>
#include <string.h>

/* ---- small XML and context helpers ---- */

static gboolean attr_is(xmlNodePtr n, const char *name, const char *value)
{
    g_autofree char *v = qt_xml_attr(n, name);
    return g_strcmp0(v, value) == 0;
}

/* a non-negative integer attribute (decimal or 0x hex, as libvirt reads
 * them), else @fallback */
static gint64 attr_index(xmlNodePtr n, const char *name, gint64 fallback)
{
    g_autofree char *v = qt_xml_attr(n, name);
    guint64 u;

    if (v == NULL)
        return fallback;
    if (g_str_has_prefix(v, "0x") || g_str_has_prefix(v, "0X")) {
        if (!g_ascii_string_to_unsigned(v + 2, 16, 0, G_MAXINT, &u, NULL))
            return fallback;
    } else if (!g_ascii_string_to_unsigned(v, 10, 0, G_MAXINT, &u, NULL)) {
        return fallback;
    }
    return (gint64)u;
}

static gboolean has(const QtLibvirtContext *ctx, const char *type)
{
    if (!ctx->has_type || ctx->has_type_fn == NULL)
        return TRUE;
    return ctx->has_type_fn(type, ctx->has_type_data);
}

static gboolean arch_is(const QtLibvirtContext *ctx, const char *const *names)
{
    for (; *names; names++)
        if (g_strcmp0(ctx->arch, *names) == 0)
            return TRUE;
    return FALSE;
}

/* libvirt's ARCH_IS_X86, ARCH_IS_PPC64, ARCH_IS_S390, ARCH_IS_RISCV and the
 * arm architectures (src/util/virarch.h) */
static gboolean arch_x86(const QtLibvirtContext *ctx)
{
    static const char *const a[] = {"i686", "x86_64", NULL};
    return arch_is(ctx, a);
}

static gboolean arch_ppc64(const QtLibvirtContext *ctx)
{
    static const char *const a[] = {"ppc64", "ppc64le", NULL};
    return arch_is(ctx, a);
}

static gboolean arch_s390(const QtLibvirtContext *ctx)
{
    static const char *const a[] = {"s390", "s390x", NULL};
    return arch_is(ctx, a);
}

static gboolean arch_arm(const QtLibvirtContext *ctx)
{
    static const char *const a[] = {"armv6l", "armv7l", "aarch64", NULL};
    return arch_is(ctx, a);
}

static gboolean arch_riscv(const QtLibvirtContext *ctx)
{
    static const char *const a[] = {"riscv32", "riscv64", NULL};
    return arch_is(ctx, a);
}

/* "virt" on arm or riscv: the one such machine with a PCI Express root */
static gboolean virt_machine(const QtLibvirtContext *ctx)
{
    return (arch_arm(ctx) || arch_riscv(ctx)) && ctx->pcie_root;
}

static QtLibvirtKind pci(char **driver, const char *type)
{
    if (driver)
        *driver = g_strdup(type);
    return QT_LIBVIRT_PCI;
}

static QtLibvirtKind unmapped(char **why, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static QtLibvirtKind unmapped(char **why, const char *fmt, ...)
{
    va_list ap;

    if (why) {
        va_start(ap, fmt);
        *why = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    return QT_LIBVIRT_UNMAPPED;
}

/* ---- where a virtio device goes ---- */

typedef enum {
    BUS_PCI,
    BUS_ELSEWHERE, /* virtio-mmio, ccw, or an explicit non-PCI address */
} VirtioBus;

/* does any device of the domain have a virtio-mmio address?  (libvirt keeps
 * an arm/riscv virt guest on virtio-mmio then: qemuDomainHasVirtioMMIODevices) */
static gboolean domain_has_virtio_mmio(xmlNodePtr el)
{
    xmlNodePtr devices = el->parent;

    if (devices == NULL || devices->type != XML_ELEMENT_NODE)
        return FALSE;
    for (xmlNodePtr d = devices->children; d; d = d->next) {
        if (d->type != XML_ELEMENT_NODE)
            continue;
        if (attr_is(qt_xml_child(d, "address"), "type", "virtio-mmio"))
            return TRUE;
    }
    return FALSE;
}

/* the bus of a virtio device: an explicit <address> decides; without one,
 * s390 guests put it on ccw (qemuDomainAssignS390Addresses), arm and riscv
 * virt guests on PCI when they have a PCI Express root and no virtio-mmio
 * device, else on virtio-mmio (qemuDomainAssignVirtioMMIOAddresses), and
 * every other machine on PCI (src/qemu/qemu_domain_address.c;
 * docs/formatdomain.rst#device-addresses) */
static VirtioBus virtio_bus(xmlNodePtr el, const QtLibvirtContext *ctx)
{
    xmlNodePtr addr = qt_xml_child(el, "address");
    g_autofree char *type = qt_xml_attr(addr, "type");

    if (type != NULL)
        return g_strcmp0(type, "pci") == 0 ? BUS_PCI : BUS_ELSEWHERE;
    if (arch_s390(ctx))
        return BUS_ELSEWHERE;
    if (arch_arm(ctx) || arch_riscv(ctx))
        return ctx->pcie_root && !domain_has_virtio_mmio(el) ? BUS_PCI : BUS_ELSEWHERE;
    return BUS_PCI;
}

/* an explicit <address> other than PCI (isa, usb, spapr-vio, drive,
 * unassigned...): the element is not on PCI whatever it is */
static gboolean addressed_elsewhere(xmlNodePtr el)
{
    xmlNodePtr addr = qt_xml_child(el, "address");
    g_autofree char *type = qt_xml_attr(addr, "type");

    return type != NULL && g_strcmp0(type, "pci") != 0;
}

/* a virtio PCI type: @base ("virtio-blk") + "-pci", and the -transitional /
 * -non-transitional variant @model asks for (src/qemu/qemu_command.c:
 * qemuBuildVirtioDevGetConfig): without the -transitional type libvirt falls
 * back to the plain one (it puts it in a conventional PCI slot, which is
 * equivalent); without -non-transitional it refuses, and the type is named
 * all the same (docs/formatdomain.rst#virtio-transitional-devices) */
static QtLibvirtKind virtio_pci(const QtLibvirtContext *ctx, const char *base, const char *model,
                                char **driver)
{
    g_autofree char *plain = g_strdup_printf("%s-pci", base);
    g_autofree char *variant = NULL;

    if (g_strcmp0(model, "virtio-transitional") == 0) {
        variant = g_strdup_printf("%s-pci-transitional", base);
        return pci(driver, has(ctx, variant) ? variant : plain);
    }
    if (g_strcmp0(model, "virtio-non-transitional") == 0) {
        variant = g_strdup_printf("%s-pci-non-transitional", base);
        return pci(driver, variant);
    }
    return pci(driver, plain);
}

/* a virtio device: on PCI per virtio_bus(), else not a PCI device */
static QtLibvirtKind virtio_device(xmlNodePtr el, const QtLibvirtContext *ctx, const char *base,
                                   const char *model, char **driver)
{
    if (virtio_bus(el, ctx) != BUS_PCI)
        return QT_LIBVIRT_NOT_PCI;
    return virtio_pci(ctx, base, model, driver);
}

/* ---- <interface> ---- */

/* libvirt's default NIC model when <model> is absent
 * (src/qemu/qemu_domain.c: qemuDomainDefaultNetModel): virtio on s390 and
 * arm/riscv virt, else the first of rtl8139, e1000, virtio the binary has;
 * non-virt arm boards get their board NIC (lan9118, smc91c111) */
static const char *default_net_model(const QtLibvirtContext *ctx)
{
    if (arch_s390(ctx))
        return "virtio";
    if (arch_arm(ctx))
        return ctx->pcie_root ? "virtio" : NULL;
    if (arch_riscv(ctx) && ctx->pcie_root)
        return "virtio";
    if (has(ctx, "rtl8139"))
        return "rtl8139";
    if (has(ctx, "e1000"))
        return "e1000";
    if (has(ctx, "virtio-net-pci"))
        return "virtio";
    return "rtl8139";
}

/* QEMU NIC types that are not PCI devices, which libvirt 9.0 would still
 * give a PCI address: every <interface> but type='hostdev', usb-net and
 * spapr-vlan takes one (qemuDomainDeviceCalculatePCIConnectFlags,
 * qemuDomainAssignDevicePCISlots) */
static const char *const nic_not_pci[] = {
    "ne2k_isa", "lan9118", "smc91c111", "lance", "dp8393x", "mipsnet", "xgmac", "cadence_gem", NULL,
};

/* docs/formatdomain.rst#network-interfaces;
 * src/qemu/qemu_command.c: qemuBuildNicDevProps, qemuBuildPCIHostdevDevProps */
static QtLibvirtKind interface_type(xmlNodePtr el, const QtLibvirtContext *ctx, char **driver,
                                    char **why)
{
    g_autofree char *type = qt_xml_attr(el, "type");
    g_autofree char *model = qt_xml_attr(qt_xml_child(el, "model"), "type");

    if (g_strcmp0(type, "hostdev") == 0) {
        /* an SR-IOV VF given to the guest: vfio-pci; a USB source is a
         * usb-host device (qemuBuildHostdevCommandLine) */
        if (attr_is(qt_xml_child(qt_xml_child(el, "source"), "address"), "type", "usb"))
            return QT_LIBVIRT_NOT_PCI;
        return pci(driver, "vfio-pci");
    }
    if (model == NULL) {
        /* vdpa defaults to virtio (qemuDomainDeviceNetDefPostParse) */
        const char *def = g_strcmp0(type, "vdpa") == 0 ? "virtio" : default_net_model(ctx);
        if (def == NULL)
            return unmapped(why,
                            "libvirt 9.0 gives a non-virt %s machine its board NIC "
                            "(lan9118, smc91c111), not a PCI device",
                            ctx->arch);
        model = g_strdup(def);
    }
    if (g_str_has_prefix(model, "virtio"))
        return virtio_device(el, ctx, "virtio-net", model, driver);
    if (addressed_elsewhere(el))
        return QT_LIBVIRT_NOT_PCI;
    if (g_strcmp0(model, "spapr-vlan") == 0 || g_strcmp0(model, "netfront") == 0)
        return QT_LIBVIRT_NOT_PCI; /* spapr-vio (qemuDomainAssignSpaprVIOAddresses), xen */
    if (g_strcmp0(model, "usb-net") == 0)
        /* usb-net connects by no PCI flags, yet libvirt 9.0's PCI address
         * assignment fails on it ("Cannot automatically add a new PCI bus
         * for a device with connect flags 00") unless it has a USB address */
        return unmapped(why, "libvirt 9.0 cannot define <model type='usb-net'/> without an "
                             "<address type='usb'/>");
    for (const char *const *n = nic_not_pci; *n; n++)
        if (g_strcmp0(model, *n) == 0)
            return unmapped(why,
                            "libvirt 9.0 gives <model type='%s'/> a PCI address, but QEMU's "
                            "%s is not a PCI device",
                            model, model);
    /* every other model is written to -device as it is (e1000, e1000e,
     * rtl8139, vmxnet3, ne2k_pci, pcnet, i82559er...; "igb" too, which QEMU
     * has from 8.0, and libvirt 9.0 keeps as a plain model string) */
    return pci(driver, model);
}

/* ---- <disk> ---- */

/* the bus of a <disk>: its target's, else from the target name, as libvirt
 * reads it (src/conf/domain_postparse.c: virDomainDiskDefPostParse) */
static char *disk_bus(xmlNodePtr el)
{
    xmlNodePtr target = qt_xml_child(el, "target");
    g_autofree char *bus = qt_xml_attr(target, "bus");
    g_autofree char *dev = qt_xml_attr(target, "dev");

    if (bus != NULL)
        return g_steal_pointer(&bus);
    if (attr_is(el, "device", "floppy"))
        return g_strdup("fdc");
    if (dev == NULL || g_str_has_prefix(dev, "hd"))
        return g_strdup("ide");
    if (g_str_has_prefix(dev, "sd"))
        return g_strdup("scsi");
    if (g_str_has_prefix(dev, "vd"))
        return g_strdup("virtio");
    if (g_str_has_prefix(dev, "xvd"))
        return g_strdup("xen");
    if (g_str_has_prefix(dev, "ubd"))
        return g_strdup("uml");
    return g_strdup("ide");
}

/* docs/formatdomain.rst#hard-drives-floppy-disks-cdroms: only a virtio disk
 * is a PCI device (qemuDomainDeviceCalculatePCIConnectFlags); a vhost-user
 * disk is vhost-user-blk (qemuBuildVirtioDevGetConfigDev) */
static QtLibvirtKind disk_type(xmlNodePtr el, const QtLibvirtContext *ctx, char **driver)
{
    g_autofree char *bus = disk_bus(el);
    g_autofree char *model = qt_xml_attr(el, "model");

    if (g_strcmp0(bus, "virtio") != 0)
        return QT_LIBVIRT_NOT_PCI;
    if (attr_is(el, "type", "vhostuser"))
        return virtio_device(el, ctx, "vhost-user-blk", model, driver);
    return virtio_device(el, ctx, "virtio-blk", model, driver);
}

/* ---- <controller> ---- */

/* the index of a controller as libvirt assigns it: its own, else the
 * lowest one no earlier controller of its type holds
 * (src/conf/domain_postparse.c: virDomainAssignControllerIndexes) */
static gint64 controller_index(xmlNodePtr el)
{
    g_autofree char *type = qt_xml_attr(el, "type");
    g_autoptr(GHashTable) used = NULL;
    gint64 own = attr_index(el, "index", -1);

    if (own >= 0 || el->parent == NULL)
        return own >= 0 ? own : 0;
    used = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (xmlNodePtr c = el->parent->children; c; c = c->next)
        if (qt_xml_is_element(c, "controller") && attr_is(c, "type", type) &&
            attr_index(c, "index", -1) >= 0)
            g_hash_table_add(used, GINT_TO_POINTER(attr_index(c, "index", -1)));
    for (xmlNodePtr c = el->parent->children; c; c = c->next) {
        gint64 idx = 0;
        if (!qt_xml_is_element(c, "controller") || !attr_is(c, "type", type) ||
            attr_index(c, "index", -1) >= 0)
            continue;
        while (g_hash_table_contains(used, GINT_TO_POINTER(idx)))
            idx++;
        if (c == el)
            return idx;
        g_hash_table_add(used, GINT_TO_POINTER(idx));
    }
    return 0;
}

/* libvirt's USB controller models and the QEMU types it writes
 * (src/qemu/qemu_command.c: qemuControllerModelUSB, qemuBuildUSBControllerDevProps;
 * docs/formatdomain.rst#controllers) */
static const struct {
    const char *model;
    const char *type;
} usb_models[] = {
    {"piix3-uhci", "piix3-usb-uhci"},
    {"piix4-uhci", "piix4-usb-uhci"},
    {"ehci", "usb-ehci"},
    {"ich9-ehci1", "ich9-usb-ehci1"},
    {"ich9-uhci1", "ich9-usb-uhci1"},
    {"ich9-uhci2", "ich9-usb-uhci2"},
    {"ich9-uhci3", "ich9-usb-uhci3"},
    {"vt82c686b-uhci", "vt82c686b-usb-uhci"},
    {"pci-ohci", "pci-ohci"},
    {"nec-xhci", "nec-usb-xhci"},
    {"qemu-xhci", "qemu-xhci"},
};

/* the model libvirt gives a <controller type='usb'> without one
 * (src/qemu/qemu_domain.c: qemuDomainControllerDefPostParse): piix3-uhci if
 * the binary has it; on ppc64 qemu-xhci, nec-xhci or pci-ohci (for a new
 * definition, which may take the newer ABI); on aarch64 qemu-xhci or
 * nec-xhci; on s390 none unless it has an address.  NULL: none fits, libvirt
 * falls back to QEMU's own -usb (and refuses it on q35 and virt). */
static const char *default_usb_model(xmlNodePtr el, const QtLibvirtContext *ctx)
{
    const char *model = has(ctx, "piix3-usb-uhci") ? "piix3-uhci" : NULL;

    if (arch_s390(ctx)) {
        if (qt_xml_child(el, "address") == NULL)
            model = "none";
    } else if (arch_ppc64(ctx)) {
        if (has(ctx, "qemu-xhci"))
            model = "qemu-xhci";
        else if (has(ctx, "nec-usb-xhci"))
            model = "nec-xhci";
        else if (has(ctx, "pci-ohci"))
            model = "pci-ohci";
        else
            model = NULL;
    } else if (g_strcmp0(ctx->arch, "aarch64") == 0) {
        if (has(ctx, "qemu-xhci"))
            model = "qemu-xhci";
        else if (has(ctx, "nec-usb-xhci"))
            model = "nec-xhci";
    }
    return model;
}

static QtLibvirtKind usb_controller(xmlNodePtr el, const QtLibvirtContext *ctx, char **driver,
                                    char **why)
{
    g_autofree char *model = qt_xml_attr(el, "model");

    if (model == NULL) {
        const char *def = default_usb_model(el, ctx);
        if (def == NULL)
            return unmapped(why, "libvirt 9.0 has no USB controller model for this binary "
                                 "and falls back to QEMU's -usb");
        model = g_strdup(def);
    }
    if (g_strcmp0(model, "none") == 0)
        return QT_LIBVIRT_NOT_PCI;
    if (addressed_elsewhere(el))
        return QT_LIBVIRT_NOT_PCI;
    for (gsize i = 0; i < G_N_ELEMENTS(usb_models); i++)
        if (g_strcmp0(model, usb_models[i].model) == 0)
            return pci(driver, usb_models[i].type);
    /* qusb1/qusb2 are Xen's (qemuDomainControllerDefPostParse refuses them) */
    return unmapped(why, "libvirt 9.0 makes no QEMU device of USB controller model '%s'", model);
}

/* the SCSI controller model libvirt picks when there is none
 * (src/qemu/qemu_domain_address.c: qemuDomainGetSCSIControllerModel):
 * ibmvscsi on pseries, virtio-scsi on s390, else lsilogic or virtio-scsi,
 * whichever the binary has first.  'auto' is the same as none. */
static const char *default_scsi_model(const QtLibvirtContext *ctx)
{
    if (arch_ppc64(ctx))
        return "ibmvscsi";
    if (arch_s390(ctx))
        return "virtio-scsi";
    if (has(ctx, "lsi53c895a"))
        return "lsilogic";
    if (has(ctx, "virtio-scsi-pci"))
        return "virtio-scsi";
    return NULL; /* a built-in ESP (sparc, magnum, q800) or an error */
}

/* src/qemu/qemu_command.c: qemuBuildControllerSCSIDevProps;
 * docs/formatdomain.rst#controllers */
static QtLibvirtKind scsi_controller(xmlNodePtr el, const QtLibvirtContext *ctx, char **driver,
                                     char **why)
{
    g_autofree char *model = qt_xml_attr(el, "model");

    if (model == NULL || g_strcmp0(model, "auto") == 0) {
        const char *def = default_scsi_model(ctx);
        g_clear_pointer(&model, g_free);
        if (def == NULL)
            return unmapped(why, "libvirt 9.0 finds no SCSI controller model for this binary");
        model = g_strdup(def);
    }
    if (g_str_has_prefix(model, "virtio"))
        return virtio_device(el, ctx, "virtio-scsi", model, driver);
    if (addressed_elsewhere(el))
        return QT_LIBVIRT_NOT_PCI;
    if (g_strcmp0(model, "lsilogic") == 0)
        return pci(driver, "lsi53c895a"); /* libvirt writes its alias "lsi" */
    if (g_strcmp0(model, "lsisas1068") == 0)
        return pci(driver, "mptsas1068");
    if (g_strcmp0(model, "lsisas1078") == 0)
        return pci(driver, "megasas"); /* not megasas-gen2 */
    if (g_strcmp0(model, "vmpvscsi") == 0)
        return pci(driver, "pvscsi");
    if (g_strcmp0(model, "am53c974") == 0)
        return pci(driver, "am53c974");
    if (g_strcmp0(model, "dc390") == 0)
        /* libvirt 9.0 writes "dc-390", a type QEMU does not have (its type
         * is "dc390"): named as libvirt writes it, so the binary refuses */
        return pci(driver, "dc-390");
    if (g_strcmp0(model, "ibmvscsi") == 0 || g_strcmp0(model, "ncr53c90") == 0)
        return QT_LIBVIRT_NOT_PCI; /* spapr-vscsi on spapr-vio; the machine's own ESP */
    /* buslogic: "Unsupported controller model" */
    return unmapped(why, "libvirt 9.0 makes no QEMU device of SCSI controller model '%s'", model);
}

static QtLibvirtKind controller_type(xmlNodePtr el, const QtLibvirtContext *ctx, char **driver,
                                     char **why)
{
    g_autofree char *type = qt_xml_attr(el, "type");

    if (g_strcmp0(type, "usb") == 0)
        return usb_controller(el, ctx, driver, why);
    if (g_strcmp0(type, "scsi") == 0)
        return scsi_controller(el, ctx, driver, why);
    if (g_strcmp0(type, "virtio-serial") == 0) {
        g_autofree char *model = qt_xml_attr(el, "model");
        return virtio_device(el, ctx, "virtio-serial", model, driver);
    }
    if (g_strcmp0(type, "sata") == 0) {
        /* q35's first SATA controller is the machine's own 00:1f.2
         * (qemuBuildSkipController); others are ahci, which is ich9-ahci */
        if (addressed_elsewhere(el))
            return QT_LIBVIRT_NOT_PCI;
        if (arch_x86(ctx) && ctx->pcie_root && controller_index(el) == 0)
            return QT_LIBVIRT_NOT_PCI;
        return pci(driver, "ich9-ahci");
    }
    if (g_strcmp0(type, "ide") == 0) {
        /* libvirt creates no IDE controller: the first is the machine's own
         * (piix3-ide on i440fx, and on malta, sun4u, g3beige:
         * qemuDomainMachineHasBuiltinIDE), and libvirt refuses one anywhere
         * else (q35, virt, pseries: "IDE controllers are unsupported for
         * this QEMU binary or machine type") */
        static const char *const builtin[] = {"i686",     "x86_64",  "mips", "mipsel", "mips64",
                                              "mips64el", "sparc64", "ppc",  NULL};
        if (!arch_is(ctx, builtin) || (arch_x86(ctx) && ctx->pcie_root))
            return unmapped(why, "libvirt 9.0 refuses IDE controllers on this machine");
        if (controller_index(el) > 0)
            return unmapped(why, "libvirt 9.0 takes only the machine's built-in IDE controller");
        return QT_LIBVIRT_NOT_PCI;
    }
    /* pci: the caller's; fdc: ISA (isa-fdc); ccid: usb-ccid; xenbus and isa:
     * no device (qemuDomainDeviceCalculatePCIConnectFlags) */
    if (g_strcmp0(type, "pci") == 0 || g_strcmp0(type, "fdc") == 0 ||
        g_strcmp0(type, "ccid") == 0 || g_strcmp0(type, "xenbus") == 0 ||
        g_strcmp0(type, "isa") == 0)
        return QT_LIBVIRT_NOT_PCI;
    return unmapped(why, "libvirt 9.0 has no controller type '%s'", type ? type : "(none)");
}

/* ---- <video> ---- */

/* the video type libvirt gives a <video> without one
 * (src/qemu/qemu_domain.c: qemuDomainDefaultVideoDevice) */
static const char *default_video_type(const QtLibvirtContext *ctx)
{
    if (arch_ppc64(ctx))
        return "vga";
    if (virt_machine(ctx) || arch_s390(ctx))
        return "virtio";
    if (has(ctx, "cirrus-vga"))
        return "cirrus";
    if (has(ctx, "VGA"))
        return "vga";
    return NULL;
}

/* is @el the primary <video>?  the one with <model primary='yes'>, else the
 * first (src/conf/domain_postparse.c: virDomainDefPostParseVideo) */
static gboolean primary_video(xmlNodePtr el, gboolean first_video)
{
    if (attr_is(qt_xml_child(el, "model"), "primary", "yes"))
        return TRUE;
    if (!first_video)
        return FALSE;
    for (xmlNodePtr v = el->parent ? el->parent->children : NULL; v; v = v->next)
        if (v != el && qt_xml_is_element(v, "video") &&
            attr_is(qt_xml_child(v, "model"), "primary", "yes"))
            return FALSE;
    return TRUE;
}

/* src/qemu/qemu_command.c: qemuDeviceVideoGetModel, qemuBuildDeviceVideoCmd;
 * docs/formatdomain.rst#video-devices.  The primary device takes the type
 * with VGA compatibility; a virtio one only where the binary has virtio-vga
 * (qemuDomainSupportsVideoVga: QEMU 7.2 has none on aarch64 and ppc64). */
static QtLibvirtKind video_type(xmlNodePtr el, const QtLibvirtContext *ctx, gboolean first_video,
                                char **driver, char **why)
{
    xmlNodePtr model = qt_xml_child(el, "model");
    g_autofree char *type = qt_xml_attr(model, "type");
    g_autofree char *backend = qt_xml_attr(qt_xml_child(el, "driver"), "name");
    gboolean primary = primary_video(el, first_video);
    gboolean accel3d = attr_is(qt_xml_child(model, "acceleration"), "accel3d", "yes");

    if (type == NULL) {
        const char *def = default_video_type(ctx);
        if (def == NULL)
            return unmapped(why, "libvirt 9.0 finds no default video model for this binary");
        type = g_strdup(def);
    }
    if (g_strcmp0(type, "none") == 0 || g_strcmp0(type, "ramfb") == 0)
        return QT_LIBVIRT_NOT_PCI; /* no device; ramfb is a sysbus device */
    if (g_strcmp0(type, "virtio") == 0) {
        if (virtio_bus(el, ctx) != BUS_PCI)
            return QT_LIBVIRT_NOT_PCI; /* virtio-gpu-ccw, virtio-gpu-device */
        if (g_strcmp0(backend, "vhostuser") == 0)
            return pci(driver, primary && has(ctx, "vhost-user-vga") ? "vhost-user-vga"
                                                                     : "vhost-user-gpu-pci");
        if (primary && has(ctx, "virtio-vga"))
            return pci(driver,
                       accel3d && has(ctx, "virtio-vga-gl") ? "virtio-vga-gl" : "virtio-vga");
        return pci(driver, accel3d && has(ctx, "virtio-gpu-gl-pci") ? "virtio-gpu-gl-pci"
                                                                    : "virtio-gpu-pci");
    }
    if (addressed_elsewhere(el))
        return QT_LIBVIRT_NOT_PCI;
    if (g_strcmp0(type, "qxl") == 0)
        return pci(driver, primary ? "qxl-vga" : "qxl");
    if (!primary)
        return unmapped(why, "libvirt 9.0 takes video model '%s' only as the primary video", type);
    if (g_strcmp0(type, "vga") == 0)
        return pci(driver, "VGA");
    if (g_strcmp0(type, "cirrus") == 0)
        return pci(driver, "cirrus-vga");
    if (g_strcmp0(type, "vmvga") == 0)
        return pci(driver, "vmware-svga");
    if (g_strcmp0(type, "bochs") == 0)
        return pci(driver, "bochs-display");
    /* xen, vbox, parallels, gop: other drivers' */
    return unmapped(why, "libvirt 9.0's QEMU driver has no video model '%s'", type);
}

/* ---- the other device elements ---- */

/* src/qemu/qemu_command.c: qemuBuildSoundDevCmd; docs/formatdomain.rst#sound-devices */
static QtLibvirtKind sound_type(xmlNodePtr el, char **driver, char **why)
{
    g_autofree char *model = qt_xml_attr(el, "model");

    if (addressed_elsewhere(el))
        return QT_LIBVIRT_NOT_PCI;
    if (g_strcmp0(model, "ich6") == 0)
        return pci(driver, "intel-hda");
    if (g_strcmp0(model, "ich9") == 0)
        return pci(driver, "ich9-intel-hda");
    if (g_strcmp0(model, "ac97") == 0)
        return pci(driver, "AC97");
    if (g_strcmp0(model, "es1370") == 0)
        return pci(driver, "ES1370");
    if (g_strcmp0(model, "usb") == 0 || g_strcmp0(model, "sb16") == 0 ||
        g_strcmp0(model, "pcspk") == 0)
        return QT_LIBVIRT_NOT_PCI; /* usb-audio, ISA sb16, the PC speaker */
    /* ich7 is bhyve's: libvirt 9.0's QEMU driver fails to address it */
    return unmapped(why, "libvirt 9.0's QEMU driver has no sound model '%s'",
                    model ? model : "(none)");
}

/* src/qemu/qemu_command.c: qemuBuildWatchdogDevProps; docs/formatdomain.rst#watchdog-device:
 * i6300esb is PCI; ib700 is ISA, diag288 s390's, itco (libvirt 9.1 on) q35's
 * built-in TCO */
static QtLibvirtKind watchdog_type(xmlNodePtr el, char **driver)
{
    if (attr_is(el, "model", "i6300esb") && !addressed_elsewhere(el))
        return pci(driver, "i6300esb");
    return QT_LIBVIRT_NOT_PCI;
}

/* src/qemu/qemu_command.c: qemuBuildPCIHostdevDevProps, qemuBuildHostdevMediatedDevProps,
 * qemuBuildSCSIVHostHostdevDevProps; docs/formatdomain.rst#host-device-assignment */
static QtLibvirtKind hostdev_type(xmlNodePtr el, const QtLibvirtContext *ctx, char **driver,
                                  char **why)
{
    g_autofree char *type = qt_xml_attr(el, "type");
    g_autofree char *model = qt_xml_attr(el, "model");

    if (!attr_is(el, "mode", "subsystem"))
        return QT_LIBVIRT_NOT_PCI; /* mode='capabilities' is LXC's */
    if (g_strcmp0(type, "scsi_host") == 0)
        return virtio_device(el, ctx, "vhost-scsi", model, driver);
    if (addressed_elsewhere(el))
        return QT_LIBVIRT_NOT_PCI; /* 'unassigned' among them */
    if (g_strcmp0(type, "pci") == 0) {
        g_autofree char *backend = qt_xml_attr(qt_xml_child(el, "driver"), "name");
        if (backend != NULL && g_strcmp0(backend, "vfio") != 0)
            return unmapped(why, "libvirt 9.0 assigns host PCI devices with vfio only, not '%s'",
                            backend);
        return pci(driver, "vfio-pci");
    }
    if (g_strcmp0(type, "mdev") == 0)
        /* vfio-ccw and vfio-ap are s390's */
        return g_strcmp0(model, "vfio-pci") == 0 ? pci(driver, "vfio-pci") : QT_LIBVIRT_NOT_PCI;
    return QT_LIBVIRT_NOT_PCI; /* usb-host, scsi-generic on a SCSI controller */
}

/* docs/formatdomain.rst#filesystems; qemuBuildFSDevCommandLine (virtio-9p),
 * qemuBuildVHostUserFsCommandLine (vhost-user-fs) */
static QtLibvirtKind filesystem_type(xmlNodePtr el, const QtLibvirtContext *ctx, char **driver)
{
    g_autofree char *fsdriver = qt_xml_attr(qt_xml_child(el, "driver"), "type");
    g_autofree char *model = qt_xml_attr(el, "model");

    if (fsdriver == NULL || g_strcmp0(fsdriver, "path") == 0 || g_strcmp0(fsdriver, "handle") == 0)
        return virtio_device(el, ctx, "virtio-9p", model, driver);
    if (g_strcmp0(fsdriver, "virtiofs") == 0)
        return virtio_device(el, ctx, "vhost-user-fs", NULL, driver);
    return QT_LIBVIRT_NOT_PCI; /* loop, nbd, ploop: LXC's */
}

/* docs/formatdomain.rst#input-devices; qemuBuildVirtioDevGetConfigDev: only
 * bus='virtio' is PCI; passthrough is virtio-input-host, evdev an object */
static QtLibvirtKind input_type(xmlNodePtr el, const QtLibvirtContext *ctx, char **driver,
                                char **why)
{
    g_autofree char *type = qt_xml_attr(el, "type");
    g_autofree char *model = qt_xml_attr(el, "model");
    const char *base = NULL;

    if (!attr_is(el, "bus", "virtio"))
        return QT_LIBVIRT_NOT_PCI;
    if (g_strcmp0(type, "keyboard") == 0)
        base = "virtio-keyboard";
    else if (g_strcmp0(type, "mouse") == 0)
        base = "virtio-mouse";
    else if (g_strcmp0(type, "tablet") == 0)
        base = "virtio-tablet";
    else if (g_strcmp0(type, "passthrough") == 0)
        base = "virtio-input-host";
    else
        return QT_LIBVIRT_NOT_PCI;
    if (model != NULL && g_str_has_suffix(model, "transitional"))
        return unmapped(why, "libvirt 9.0 refuses (non-)transitional virtio input models");
    return virtio_device(el, ctx, base, NULL, driver);
}

/* docs/formatdomain.rst#shared-memory-device; qemuBuildShmemCommandLine: the
 * default model is the legacy "ivshmem", which QEMU no longer has */
static QtLibvirtKind shmem_type(xmlNodePtr el, char **driver)
{
    g_autofree char *model = qt_xml_attr(qt_xml_child(el, "model"), "type");

    if (addressed_elsewhere(el))
        return QT_LIBVIRT_NOT_PCI;
    if (g_strcmp0(model, "ivshmem-plain") == 0 || g_strcmp0(model, "ivshmem-doorbell") == 0)
        return pci(driver, model);
    return pci(driver, "ivshmem");
}

/* docs/formatdomain.rst#iommu-devices: only the virtio IOMMU is a PCI
 * device (libvirt writes its alias "virtio-iommu"), and libvirt 9.0 takes
 * it on q35 and arm virt only (qemuValidateDomainDeviceDefIOMMU);
 * intel-iommu and smmuv3 are the machine's */
static QtLibvirtKind iommu_type(xmlNodePtr el, const QtLibvirtContext *ctx, char **driver,
                                char **why)
{
    g_autofree char *model = qt_xml_attr(el, "model");

    if (g_strcmp0(model, "virtio") == 0) {
        if (addressed_elsewhere(el))
            return QT_LIBVIRT_NOT_PCI;
        if (!ctx->pcie_root || !(arch_x86(ctx) || arch_arm(ctx)))
            return unmapped(why, "libvirt 9.0 takes <iommu model='virtio'> only on x86 and "
                                 "arm machines with a PCI Express root");
        return pci(driver, "virtio-iommu-pci");
    }
    if (g_strcmp0(model, "intel") == 0 || g_strcmp0(model, "smmuv3") == 0)
        return QT_LIBVIRT_NOT_PCI;
    return unmapped(why, "libvirt 9.0 has no IOMMU model '%s'", model ? model : "(none)");
}

/* docs/formatdomain.rst#memory-devices: virtio-mem and virtio-pmem are PCI
 * devices; dimm, nvdimm and sgx-epc are not */
static QtLibvirtKind memory_type(xmlNodePtr el, const QtLibvirtContext *ctx, char **driver)
{
    if (attr_is(el, "model", "virtio-mem"))
        return virtio_device(el, ctx, "virtio-mem", NULL, driver);
    if (attr_is(el, "model", "virtio-pmem"))
        return virtio_device(el, ctx, "virtio-pmem", NULL, driver);
    return QT_LIBVIRT_NOT_PCI;
}

/* docs/formatdomain.rst#panic-device; qemuBuildPanicCommandLine: every 9.0
 * model is off PCI (isa pvpanic, pseries and s390 firmware, hyperv's CPU
 * feature) */
static QtLibvirtKind panic_type(xmlNodePtr el, char **why)
{
    g_autofree char *model = qt_xml_attr(el, "model");

    if (model == NULL || g_strcmp0(model, "isa") == 0 || g_strcmp0(model, "pseries") == 0 ||
        g_strcmp0(model, "hyperv") == 0 || g_strcmp0(model, "s390") == 0)
        return QT_LIBVIRT_NOT_PCI;
    if (g_strcmp0(model, "pvpanic") == 0)
        return unmapped(why, "libvirt 9.0 refuses panic model 'pvpanic' (libvirt 9.1 makes "
                             "it a pvpanic-pci device)");
    return unmapped(why, "libvirt 9.0 has no panic model '%s'", model);
}

/* docs/formatdomain.rst#serial-port: only <target type='pci-serial'> is a
 * PCI device (qemuDomainDeviceCalculatePCIConnectFlags) */
static QtLibvirtKind serial_type(xmlNodePtr el, char **driver)
{
    if (attr_is(qt_xml_child(el, "target"), "type", "pci-serial") && !addressed_elsewhere(el))
        return pci(driver, "pci-serial");
    return QT_LIBVIRT_NOT_PCI;
}

/* elements that never take a PCI address: qemuDomainDeviceCalculatePCIConnectFlags
 * (nvram, tpm, panic, hub, redirdev, smartcard, lease, graphics, audio) and
 * the character devices, which sit on ISA, USB, spapr-vio or virtio-serial */
static const char *const never_pci[] = {
    "emulator", "graphics",    "audio", "channel", "console", "parallel", "smartcard",
    "redirdev", "redirfilter", "hub",   "lease",   "tpm",     "nvram",    NULL,
};

QtLibvirtKind qt_libvirt_device_type(xmlNodePtr el, const QtLibvirtContext *ctx,
                                     gboolean first_video, char **driver, char **why)
{
    const char *name;

    if (driver)
        *driver = NULL;
    if (why)
        *why = NULL;
    g_return_val_if_fail(ctx != NULL, QT_LIBVIRT_UNMAPPED);
    if (el == NULL || el->type != XML_ELEMENT_NODE)
        return unmapped(why, "not an element");
    name = (const char *)el->name;
    for (const char *const *n = never_pci; *n; n++)
        if (strcmp(name, *n) == 0)
            return QT_LIBVIRT_NOT_PCI;
    if (strcmp(name, "interface") == 0)
        return interface_type(el, ctx, driver, why);
    if (strcmp(name, "disk") == 0)
        return disk_type(el, ctx, driver);
    if (strcmp(name, "controller") == 0)
        return controller_type(el, ctx, driver, why);
    if (strcmp(name, "video") == 0)
        return video_type(el, ctx, first_video, driver, why);
    if (strcmp(name, "memballoon") == 0) {
        /* docs/formatdomain.rst#memory-balloon-device */
        g_autofree char *model = qt_xml_attr(el, "model");
        if (model == NULL)
            return unmapped(why, "libvirt 9.0 requires <memballoon model=...>");
        if (!g_str_has_prefix(model, "virtio"))
            return QT_LIBVIRT_NOT_PCI; /* none, xen */
        return virtio_device(el, ctx, "virtio-balloon", model, driver);
    }
    if (strcmp(name, "rng") == 0) {
        /* docs/formatdomain.rst#random-number-generator-device: virtio only */
        g_autofree char *model = qt_xml_attr(el, "model");
        return virtio_device(el, ctx, "virtio-rng", model, driver);
    }
    if (strcmp(name, "vsock") == 0) {
        /* docs/formatdomain.rst#vsock: the default model is virtio
         * (qemuDomainVsockDefPostParse) */
        g_autofree char *model = qt_xml_attr(el, "model");
        return virtio_device(el, ctx, "vhost-vsock", model, driver);
    }
    if (strcmp(name, "sound") == 0)
        return sound_type(el, driver, why);
    if (strcmp(name, "watchdog") == 0)
        return watchdog_type(el, driver);
    if (strcmp(name, "hostdev") == 0)
        return hostdev_type(el, ctx, driver, why);
    if (strcmp(name, "filesystem") == 0)
        return filesystem_type(el, ctx, driver);
    if (strcmp(name, "input") == 0)
        return input_type(el, ctx, driver, why);
    if (strcmp(name, "shmem") == 0)
        return shmem_type(el, driver);
    if (strcmp(name, "iommu") == 0)
        return iommu_type(el, ctx, driver, why);
    if (strcmp(name, "memory") == 0)
        return memory_type(el, ctx, driver);
    if (strcmp(name, "panic") == 0)
        return panic_type(el, why);
    if (strcmp(name, "serial") == 0)
        return serial_type(el, driver);
    if (strcmp(name, "crypto") == 0)
        /* libvirt 9.0 does not know the element and drops it; 9.1 made
         * <crypto model='virtio'> a virtio-crypto-pci device */
        return unmapped(why, "libvirt 9.0 ignores <crypto> (libvirt 9.1 makes it a "
                             "virtio-crypto-pci device)");
    return unmapped(why, "<%s> is not a device element libvirt 9.0 knows", name);
}

/* ---- what libvirt adds by itself ---- */

typedef enum {
    MACHINE_OTHER,
    MACHINE_Q35,
    MACHINE_I440FX,
    MACHINE_ISAPC,
    MACHINE_ARM_VIRT,
    MACHINE_RISCV_VIRT,
    MACHINE_PSERIES,
    MACHINE_S390_CCW,
} MachineFamily;

/* the machine families libvirt 9.0 tells apart by name, as it does
 * (src/qemu/qemu_domain.c: qemuDomainMachineIsQ35, qemuDomainMachineIsI440FX,
 * qemuDomainMachineIsARMVirt, qemuDomainMachineIsRISCVVirt,
 * qemuDomainMachineIsPSeries, qemuDomainMachineIsS390CCW, and the "isapc"
 * test of qemuDomainDefAddDefaultDevices).  The aliases "pc" and "q35"
 * match, and so do the versioned names libvirt writes back. */
static MachineFamily machine_family(const QtLibvirtContext *ctx, const char *machine)
{
    if (machine == NULL)
        return MACHINE_OTHER;
    if (arch_x86(ctx)) {
        if (strcmp(machine, "q35") == 0 || g_str_has_prefix(machine, "pc-q35-"))
            return MACHINE_Q35;
        if (strcmp(machine, "pc") == 0 || g_str_has_prefix(machine, "pc-0.") ||
            g_str_has_prefix(machine, "pc-1.") || g_str_has_prefix(machine, "pc-i440fx-") ||
            g_str_has_prefix(machine, "rhel"))
            return MACHINE_I440FX;
        if (strcmp(machine, "isapc") == 0)
            return MACHINE_ISAPC;
    }
    if (arch_arm(ctx) && (strcmp(machine, "virt") == 0 || g_str_has_prefix(machine, "virt-")))
        return MACHINE_ARM_VIRT;
    if (arch_riscv(ctx) && (strcmp(machine, "virt") == 0 || g_str_has_prefix(machine, "virt-")))
        return MACHINE_RISCV_VIRT;
    if (arch_ppc64(ctx) &&
        (strcmp(machine, "pseries") == 0 || g_str_has_prefix(machine, "pseries-")))
        return MACHINE_PSERIES;
    if (arch_s390(ctx) && g_str_has_prefix(machine, "s390-ccw"))
        return MACHINE_S390_CCW;
    return MACHINE_OTHER;
}

/* what exists in <devices> and what has been added so far */
typedef struct {
    xmlNodePtr devices;
    const QtLibvirtContext *ctx;
    GPtrArray *added;
    GHashTable *controllers; /* "type/index" */
} Implicit;

static void note_controller(Implicit *im, const char *type, gint64 idx)
{
    g_hash_table_add(im->controllers, g_strdup_printf("%s/%" G_GINT64_FORMAT, type, idx));
}

static gboolean has_controller(Implicit *im, const char *type, gint64 idx)
{
    g_autofree char *key = g_strdup_printf("%s/%" G_GINT64_FORMAT, type, idx);
    return g_hash_table_contains(im->controllers, key);
}

static gboolean has_element(Implicit *im, const char *name)
{
    return qt_xml_child(im->devices, name) != NULL;
}

/* add @el if it is a PCI device for this context; free it otherwise */
static void add(Implicit *im, xmlNodePtr el)
{
    g_autofree char *driver = NULL;

    if (qt_libvirt_device_type(el, im->ctx, FALSE, &driver, NULL) == QT_LIBVIRT_PCI)
        g_ptr_array_add(im->added, el);
    else
        xmlFreeNode(el);
}

static xmlNodePtr new_controller(const char *type, gint64 idx, const char *model)
{
    xmlNodePtr c = xmlNewNode(NULL, BAD_CAST "controller");
    g_autofree char *index = g_strdup_printf("%" G_GINT64_FORMAT, idx);

    xmlNewProp(c, BAD_CAST "type", BAD_CAST type);
    xmlNewProp(c, BAD_CAST "index", BAD_CAST index);
    if (model != NULL)
        xmlNewProp(c, BAD_CAST "model", BAD_CAST model);
    return c;
}

static void add_controller(Implicit *im, const char *type, gint64 idx, const char *model)
{
    if (has_controller(im, type, idx))
        return;
    note_controller(im, type, idx);
    add(im, new_controller(type, idx, model));
}

/* the default USB controller (qemuDomainDefAddDefaultDevices: x86 but
 * isapc, ppc64, and the other arches that keep addDefaultUSB), with
 * virDomainDefAddUSBController's ich9 companions */
static void implicit_usb(Implicit *im, MachineFamily family)
{
    const QtLibvirtContext *ctx = im->ctx;
    static const char *const usb_arches[] = {
        "i686",  "x86_64",  "ppc64", "ppc64le", "alpha",  "ppc",      "ppcemb", "sh4",
        "sh4eb", "sparc64", "mips",  "mipsel",  "mips64", "mips64el", NULL,
    };
    const char *model;

    if (!arch_is(ctx, usb_arches) || family == MACHINE_ISAPC || has_controller(im, "usb", 0))
        return;
    if (family == MACHINE_Q35) {
        /* "Prefer adding a USB3 controller if supported, fall back to USB2" */
        if (has(ctx, "qemu-xhci"))
            model = "qemu-xhci";
        else if (has(ctx, "nec-usb-xhci"))
            model = "nec-xhci";
        else if (has(ctx, "ich9-usb-ehci1"))
            model = "ich9-ehci1";
        else
            return;
    } else {
        /* "default for machinetype": qemuDomainControllerDefPostParse */
        model = default_usb_model(NULL, ctx);
        if (model == NULL)
            return; /* QEMU's own -usb */
    }
    note_controller(im, "usb", 0);
    add(im, new_controller("usb", 0, model));
    if (strcmp(model, "ich9-ehci1") == 0) {
        static const char *const companions[] = {"ich9-uhci1", "ich9-uhci2", "ich9-uhci3"};
        for (int i = 0; i < 3; i++) {
            xmlNodePtr c = new_controller("usb", 0, companions[i]);
            xmlNodePtr master = xmlNewChild(c, NULL, BAD_CAST "master", NULL);
            g_autofree char *port = g_strdup_printf("%d", i * 2);
            xmlNewProp(master, BAD_CAST "startport", BAD_CAST port);
            add(im, c);
        }
    }
}

/* the drive controller a disk or SCSI hostdev names: its <address
 * type='drive' controller=>, else from its target name (sdX: 7 units per
 * SCSI controller, 6 per SATA one; virDomainDiskDefAssignAddress) */
static gint64 drive_controller(xmlNodePtr el, int units)
{
    xmlNodePtr addr = qt_xml_child(el, "address");
    g_autofree char *dev = qt_xml_attr(qt_xml_child(el, "target"), "dev");
    gint64 idx = 0;
    const char *p = NULL;

    if (addr != NULL)
        return attr_is(addr, "type", "drive") ? attr_index(addr, "controller", 0) : -1;
    if (dev == NULL || units <= 0)
        return -1;
    /* virDiskNameParse: a prefix, then letters as a bijective base 26 */
    for (gsize i = 0; i < 6 && p == NULL; i++) {
        static const char *const prefixes[] = {"fd", "hd", "vd", "sd", "xvd", "ubd"};
        if (g_str_has_prefix(dev, prefixes[i]))
            p = dev + strlen(prefixes[i]);
    }
    if (p == NULL || !g_ascii_islower(*p))
        return -1;
    for (int i = 0; g_ascii_islower(*p); i++, p++) {
        idx = (idx + (i < 1 ? 0 : 1)) * 26 + (*p - 'a');
        if (idx > G_MAXINT / 32)
            return -1;
    }
    return idx / units;
}

/* the controllers disks name (virDomainDefAddDiskControllersForType: every
 * index up to the highest) */
static void implicit_disk_controllers(Implicit *im, const char *bus, const char *type, int units)
{
    gint64 max = -1;

    for (xmlNodePtr d = im->devices->children; d; d = d->next) {
        g_autofree char *b = NULL;
        if (!qt_xml_is_element(d, "disk"))
            continue;
        b = disk_bus(d);
        if (g_strcmp0(b, bus) == 0)
            max = MAX(max, drive_controller(d, units));
    }
    for (gint64 i = 0; i <= max && i < 256; i++)
        add_controller(im, type, i, strcmp(type, "scsi") == 0 ? default_scsi_model(im->ctx) : NULL);
}

/* a virtio <channel> or <console> needs its virtio-serial controller
 * (virDomainDefMaybeAddVirtioSerialController) */
static void implicit_virtio_serial(Implicit *im)
{
    for (xmlNodePtr d = im->devices->children; d; d = d->next) {
        xmlNodePtr addr;
        if ((!qt_xml_is_element(d, "channel") && !qt_xml_is_element(d, "console")) ||
            !attr_is(qt_xml_child(d, "target"), "type", "virtio"))
            continue;
        addr = qt_xml_child(d, "address");
        add_controller(
            im, "virtio-serial",
            attr_is(addr, "type", "virtio-serial") ? attr_index(addr, "controller", 0) : 0, NULL);
    }
}

/* SCSI host devices need their controllers too
 * (virDomainDefMaybeAddHostdevSCSIcontroller) */
static void implicit_hostdev_scsi(Implicit *im)
{
    gint64 max = -1;

    for (xmlNodePtr d = im->devices->children; d; d = d->next)
        if (qt_xml_is_element(d, "hostdev") && attr_is(d, "mode", "subsystem") &&
            attr_is(d, "type", "scsi"))
            max = MAX(max, MAX(drive_controller(d, 0), 0));
    for (gint64 i = 0; i <= max && i < 256; i++)
        add_controller(im, "scsi", i, default_scsi_model(im->ctx));
}

/* a <graphics> without a <video> gets the default video
 * (virDomainDefAddImplicitVideo, qemuDomainDefaultVideoDevice), primary */
static void implicit_video(Implicit *im)
{
    const char *type;
    xmlNodePtr video;
    xmlNodePtr model;

    if (!has_element(im, "graphics") || has_element(im, "video"))
        return;
    type = default_video_type(im->ctx);
    if (type == NULL)
        return;
    video = xmlNewNode(NULL, BAD_CAST "video");
    model = xmlNewChild(video, NULL, BAD_CAST "model", NULL);
    xmlNewProp(model, BAD_CAST "type", BAD_CAST type);
    xmlNewProp(model, BAD_CAST "primary", BAD_CAST "yes");
    add(im, video);
}

static void free_node(gpointer p)
{
    xmlFreeNode(p);
}

GPtrArray *qt_libvirt_implicit_devices(xmlNodePtr devices, const char *machine,
                                       const QtLibvirtContext *ctx)
{
    g_autoptr(GHashTable) controllers =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    Implicit im = {devices, ctx, g_ptr_array_new_with_free_func(free_node), controllers};
    MachineFamily family;
    static const char *const no_balloon[] = {"armv6l", "armv7l", "aarch64", "sparc", NULL};

    g_return_val_if_fail(ctx != NULL, im.added);
    if (devices == NULL)
        return im.added;
    family = machine_family(ctx, machine);
    for (xmlNodePtr c = devices->children; c; c = c->next) {
        g_autofree char *type = NULL;
        if (!qt_xml_is_element(c, "controller"))
            continue;
        type = qt_xml_attr(c, "type");
        if (type != NULL)
            note_controller(&im, type, controller_index(c));
    }

    /* qemuDomainDefAddDefaultDevices: the USB controller; q35's SATA
     * controller 0 (the machine's own at 00:1f.2: nothing to place); the
     * memballoon (not on arm or sparc) */
    implicit_usb(&im, family);
    if (family == MACHINE_Q35)
        note_controller(&im, "sata", 0);
    if (!arch_is(ctx, no_balloon) && !has_element(&im, "memballoon")) {
        xmlNodePtr b = xmlNewNode(NULL, BAD_CAST "memballoon");
        xmlNewProp(b, BAD_CAST "model", BAD_CAST "virtio");
        add(&im, b);
    }

    /* virDomainDefAddImplicitControllers: SCSI, (FDC, IDE: not PCI), SATA,
     * virtio-serial, (CCID: USB), SCSI host devices' controllers */
    implicit_disk_controllers(&im, "scsi", "scsi", 7);
    implicit_disk_controllers(&im, "sata", "sata", 6);
    implicit_virtio_serial(&im);
    implicit_hostdev_scsi(&im);

    /* virDomainDefAddImplicitVideo */
    implicit_video(&im);
    return im.added;
}

/* libvirt's qemuDomainValidateDevicePCISlotsPIIX3 (src/qemu/qemu_domain_address.c):
 * "PIIX3 USB controller at index 0 must have PCI address 0:0:1.2"; it
 * puts it there itself, the PIIX3's own function 2 */
gboolean qt_libvirt_fixed_address(xmlNodePtr el, const char *driver, int *slot, int *function)
{
    g_autofree char *index = NULL;

    if (!qt_xml_is_element(el, "controller") || g_strcmp0(driver, "piix3-usb-uhci") != 0)
        return FALSE;
    index = qt_xml_attr(el, "index");
    if (index != NULL && g_strcmp0(index, "0") != 0)
        return FALSE;
    *slot = 1;
    *function = 2;
    return TRUE;
}

/* the machine's own devices libvirt describes as controllers of index 0
 * at their address (qemuDomainDefAddDefaultDevices: q35's "implicit
 * SATA", always added; virDomainDefAddImplicitControllers: the IDE
 * controller, added for a disk on bus='ide'; i440fx's is the PIIX3's
 * function 1) */
const char *qt_libvirt_builtin_controller(const char *qemu_type, gboolean *always)
{
    static const struct {
        const char *type;
        const char *controller;
        gboolean always;
    } builtins[] = {
        {"ich9-ahci", "sata", TRUE},
        {"piix3-ide", "ide", FALSE},
        {"piix4-ide", "ide", FALSE},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(builtins); i++) {
        if (g_strcmp0(qemu_type, builtins[i].type) == 0) {
            *always = builtins[i].always;
            return builtins[i].controller;
        }
    }
    return NULL;
}

/* libvirt's binary for an architecture when <emulator> is absent
 * (src/qemu/qemu_capabilities.c: virQEMUCapsFindBinaryForArch) */
char *qt_libvirt_binary_for_arch(const char *arch)
{
    static const char *const aliases[][2] = {
        {"i686", "i386"},
        {"armv6l", "arm"},
        {"armv7l", "arm"},
        {"ppc64le", "ppc64"},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(aliases); i++)
        if (g_strcmp0(arch, aliases[i][0]) == 0)
            return g_strconcat("qemu-system-", aliases[i][1], NULL);
    return g_strconcat("qemu-system-", arch, NULL);
}
