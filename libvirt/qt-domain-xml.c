#include "qt-domain-xml.h"

#include <string.h>
#include <sys/utsname.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "qt-layout.h"
#include "qt-libvirt-vocab.h"
#include "qt-place-error.h"
#include "qt-plan-libvirt.h"
#include "qt-xml.h"

/* a device element the plan places */
typedef struct {
    xmlNodePtr el;
    char *id;
} DomainDevice;

/* what the document's qtopo metadata says of a device */
typedef struct {
    int numa_node; /* -1 */
    QtTri hotpluggable;
    char *group;
} DeviceWish;

struct _QtDomain {
    xmlDocPtr doc;
    xmlNodePtr devices;
    char *emulator;
    char *machine;
    char *arch;
    /* <metadata><qtopo:placement>: the call's defaults, and per device
     * (by its libvirt user alias) what a request's device says */
    char *policy;
    int spares;
    GHashTable *wishes;  /* alias -> DeviceWish */
    GHashTable *cells;   /* <cpu><numa><cell id>: GINT_TO_POINTER(id + 1) */
    GPtrArray *placed;   /* DomainDevice */
    GPtrArray *unmapped; /* char * */
    GHashTable *ids;     /* the ids given so far */
    gboolean completed;
};

static void wish_free(DeviceWish *w)
{
    g_free(w->group);
    g_free(w);
}

static void domain_device_free(DomainDevice *d)
{
    g_free(d->id);
    g_free(d);
}

void qt_domain_free(QtDomain *d)
{
    if (d == NULL)
        return;
    if (d->doc)
        xmlFreeDoc(d->doc);
    g_free(d->emulator);
    g_free(d->machine);
    g_free(d->arch);
    g_free(d->policy);
    g_hash_table_unref(d->wishes);
    g_hash_table_unref(d->cells);
    g_ptr_array_unref(d->placed);
    g_ptr_array_unref(d->unmapped);
    g_hash_table_unref(d->ids);
    g_free(d);
}

static gboolean bad(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean bad(GError **error, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qt_place_error_set(error, QT_PLACE_ERROR_INVALID_REQUEST, "domainXml", "domainXml: %s", msg);
    return FALSE;
}

static char *text_of(xmlNodePtr n)
{
    xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
    char *s = v ? g_strstrip(g_strdup((const char *)v)) : NULL;

    xmlFree(v);
    return s;
}

/* libvirt's numbers: decimal, or hex with 0x (docs/formatdomain, "Device
 * Addresses"); -1 when absent or not a number within [0, max] */
static gint64 number(const char *s, gint64 max)
{
    guint64 v;

    if (s == NULL || *s == '\0')
        return -1;
    if (g_str_has_prefix(s, "0x") || g_str_has_prefix(s, "0X")) {
        if (!g_ascii_string_to_unsigned(s + 2, 16, 0, (guint64)max, &v, NULL))
            return -1;
    } else if (!g_ascii_string_to_unsigned(s, 10, 0, (guint64)max, &v, NULL)) {
        return -1;
    }
    return (gint64)v;
}

/* <metadata><qtopo:placement xmlns:qtopo="urn:qtopo:placement:1"
 * policy="isolate" spareSlots="2"><qtopo:device alias="ua-nic1"
 * numaNode="1" hotpluggable="no" group="g"/>...: what a libvirt domain
 * cannot say itself (libvirt keeps metadata in a namespace of its own) */
static gboolean read_metadata(QtDomain *d, xmlNodePtr metadata, GError **error)
{
    xmlNodePtr p = NULL;

    for (xmlNodePtr c = metadata ? metadata->children : NULL; c && !p; c = c->next)
        if (c->type == XML_ELEMENT_NODE && c->ns != NULL &&
            xmlStrcmp(c->ns->href, BAD_CAST QT_DOMAIN_XML_NS) == 0 &&
            xmlStrcmp(c->name, BAD_CAST "placement") == 0)
            p = c;
    if (p == NULL)
        return TRUE;
    d->policy = qt_xml_attr(p, "policy");
    {
        g_autofree char *sp = qt_xml_attr(p, "spareSlots");
        if (sp != NULL && (d->spares = (int)number(sp, 256)) < 0)
            return bad(error, "<qtopo:placement spareSlots='%s'>: expected 0-256", sp);
    }
    for (xmlNodePtr c = p->children; c; c = c->next) {
        g_autofree char *alias = NULL;
        g_autofree char *node = NULL;
        g_autofree char *hot = NULL;
        DeviceWish *w;
        if (c->type != XML_ELEMENT_NODE || xmlStrcmp(c->name, BAD_CAST "device") != 0)
            continue;
        alias = qt_xml_attr(c, "alias");
        node = qt_xml_attr(c, "numaNode");
        hot = qt_xml_attr(c, "hotpluggable");
        if (alias == NULL || !g_str_has_prefix(alias, "ua-"))
            return bad(error, "<qtopo:device>: needs the alias='ua-...' of a device (libvirt's "
                              "user alias, <alias name='ua-...'/>)");
        if ((node != NULL && number(node, 127) < 0) ||
            (hot != NULL && !g_str_equal(hot, "yes") && !g_str_equal(hot, "no")))
            return bad(error, "<qtopo:device alias='%s'>: numaNode 0-127, hotpluggable yes or no",
                       alias);
        if (node != NULL &&
            !g_hash_table_contains(d->cells, GINT_TO_POINTER(number(node, 127) + 1)))
            return bad(error,
                       "<qtopo:device alias='%s' numaNode='%s'>: the domain has no NUMA cell %s "
                       "(<cpu><numa><cell id='%s'>)",
                       alias, node, node, node);
        w = g_new0(DeviceWish, 1);
        w->numa_node = node ? (int)number(node, 127) : -1;
        w->hotpluggable = hot == NULL ? QT_UNSET : g_str_equal(hot, "yes") ? QT_YES : QT_NO;
        w->group = qt_xml_attr(c, "group");
        g_hash_table_replace(d->wishes, g_strdup(alias), w);
    }
    return TRUE;
}

QtDomain *qt_domain_xml_read(const char *text, gsize len, GError **error)
{
    g_autoptr(QtDomain) d = g_new0(QtDomain, 1);
    xmlNodePtr root, os, type, emulator;
    g_autofree char *dtype = NULL;

    d->placed = g_ptr_array_new_with_free_func((GDestroyNotify)domain_device_free);
    d->unmapped = g_ptr_array_new_with_free_func(g_free);
    d->ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    d->wishes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)wish_free);
    d->spares = -1;
    d->cells = g_hash_table_new(g_direct_hash, g_direct_equal);
    if (len > QT_DOMAIN_XML_MAX) {
        bad(error, "longer than %d bytes", QT_DOMAIN_XML_MAX);
        return NULL;
    }
    /* no network, no external entities or DTD, nothing substituted: the
     * document is the caller's, not the caller's way into qtopod's files */
    d->doc = xmlReadMemory(text, (int)len, "domain.xml", NULL,
                           XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                               XML_PARSE_NOWARNING);
    if (d->doc == NULL) {
        const xmlError *e = xmlGetLastError();
        g_autofree char *msg = g_strdup(e && e->message ? e->message : "?");
        bad(error, "not XML: %s (line %d)", g_strstrip(msg), e ? e->line : 0);
        return NULL;
    }
    if (d->doc->intSubset != NULL || d->doc->extSubset != NULL) {
        /* libvirt writes none; an internal subset is how entities that
         * expand a billion times or read local files come in */
        bad(error, "a <!DOCTYPE> is not taken (libvirt's domain XML has none)");
        return NULL;
    }
    root = xmlDocGetRootElement(d->doc);
    if (!qt_xml_is_element(root, "domain")) {
        bad(error, "the document's element is <%s>, not <domain>",
            root ? (const char *)root->name : "none");
        return NULL;
    }
    dtype = qt_xml_attr(root, "type");
    if (g_strcmp0(dtype, "qemu") != 0 && g_strcmp0(dtype, "kvm") != 0) {
        bad(error, "<domain type='%s'>: qtopo places the devices of QEMU domains (qemu, kvm)",
            dtype ? dtype : "");
        return NULL;
    }
    os = qt_xml_child(root, "os");
    type = qt_xml_child(os, "type");
    d->machine = qt_xml_attr(type, "machine");
    d->arch = qt_xml_attr(type, "arch");
    if (d->machine == NULL || *d->machine == '\0') {
        bad(error, "no machine type: <os><type machine='...'> is needed");
        return NULL;
    }
    d->devices = qt_xml_child(root, "devices");
    if (d->devices == NULL)
        d->devices = xmlNewChild(root, NULL, BAD_CAST "devices", NULL);
    {
        /* the guest's NUMA nodes: a device's node must be one of them */
        xmlNodePtr numa = qt_xml_child(qt_xml_child(root, "cpu"), "numa");
        for (xmlNodePtr c = numa ? numa->children : NULL; c; c = c->next) {
            g_autofree char *id = qt_xml_is_element(c, "cell") ? qt_xml_attr(c, "id") : NULL;
            gint64 n = number(id, 127);
            if (n >= 0)
                g_hash_table_add(d->cells, GINT_TO_POINTER(n + 1));
        }
    }
    if (!read_metadata(d, qt_xml_child(root, "metadata"), error))
        return NULL;
    emulator = qt_xml_child(d->devices, "emulator");
    d->emulator = text_of(emulator);
    if (d->arch == NULL || *d->arch == '\0') {
        /* libvirt takes the host's (virArchFromHost), as nova counts on */
        struct utsname u;
        g_free(d->arch);
        d->arch = uname(&u) == 0 ? g_strdup(u.machine) : NULL;
        if (d->arch != NULL && g_str_has_prefix(d->arch, "i") && g_str_has_suffix(d->arch, "86"))
            d->arch[1] = '6'; /* i386..i686: libvirt's i686 */
    }
    if ((d->emulator == NULL || *d->emulator == '\0') && d->arch != NULL) {
        g_free(d->emulator);
        d->emulator = qt_libvirt_binary_for_arch(d->arch);
    }
    if (d->emulator == NULL || *d->emulator == '\0') {
        bad(error, "no emulator: <devices><emulator> or <os><type arch='...'> is needed");
        return NULL;
    }
    return g_steal_pointer(&d);
}

const char *qt_domain_xml_emulator(const QtDomain *d)
{
    return d->emulator;
}

const char *qt_domain_xml_machine(const QtDomain *d)
{
    return d->machine;
}

const char *qt_domain_xml_policy(const QtDomain *d)
{
    return d->policy;
}

int qt_domain_xml_spares(const QtDomain *d)
{
    return d->spares;
}

const GPtrArray *qt_domain_xml_unmapped(const QtDomain *d)
{
    return d->unmapped;
}

/* an element as the caller wrote its start tag, for messages */
static char *describe(xmlNodePtr el)
{
    g_autoptr(GString) s = g_string_new("<");

    g_string_append(s, (const char *)el->name);
    for (xmlAttrPtr a = el->properties; a; a = a->next) {
        g_autofree char *v = qt_xml_attr(el, (const char *)a->name);
        g_string_append_printf(s, " %s='%s'", a->name, v ? v : "");
    }
    for (xmlNodePtr m = el->children; m; m = m->next) {
        if (qt_xml_is_element(m, "model")) {
            g_autofree char *t = qt_xml_attr(m, "type");
            g_autofree char *name = qt_xml_attr(m, "name");
            g_string_append_printf(s, "><model %s='%s'/", t ? "type" : "name",
                                   t      ? t
                                   : name ? name
                                          : "");
            break;
        }
    }
    g_string_append_c(s, '>');
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static gboolean has_type(const char *qemu_type, gpointer data)
{
    const QtDeviceType *t = qt_emulator_find_device(data, qemu_type);
    return t != NULL && t->user_creatable;
}

/* a QEMU id for an element: libvirt's user alias (<alias name='ua-x'>)
 * when it has one, else the element's name and its number among those */
static char *id_for(QtDomain *d, xmlNodePtr el)
{
    g_autofree char *alias = qt_xml_attr(qt_xml_child(el, "alias"), "name");
    char *id;

    if (alias != NULL && qt_place_id_is_valid(alias) && !g_hash_table_contains(d->ids, alias)) {
        id = g_steal_pointer(&alias);
    } else {
        for (guint n = 0;; n++) {
            g_autofree char *c = g_strdup_printf("%s%u", (const char *)el->name, n);
            if (!g_hash_table_contains(d->ids, c)) {
                id = g_steal_pointer(&c);
                break;
            }
        }
    }
    g_hash_table_add(d->ids, g_strdup(id));
    return id;
}

/* the bus an <address type='pci'> names: the root bus for index 0, else
 * the controller of that index, by libvirt's alias of it ("pci.N"; the
 * placer takes a controller's id for the bus it provides) */
static char *bus_of_index(const QtLayout *l, gint64 index)
{
    return index == 0 ? g_strdup(qt_layout_main_bus(l)->name)
                      : g_strdup_printf("pci.%" G_GINT64_FORMAT, index);
}

/* an existing item at @addr (an <address type='pci'>) */
static gboolean address_item(xmlNodePtr el, xmlNodePtr addr, const QtLayout *l, QtPlaceItem *item,
                             GError **error)
{
    g_autofree char *dom = qt_xml_attr(addr, "domain");
    g_autofree char *bus = qt_xml_attr(addr, "bus");
    g_autofree char *slot = qt_xml_attr(addr, "slot");
    g_autofree char *fn = qt_xml_attr(addr, "function");
    g_autofree char *mf = qt_xml_attr(addr, "multifunction");
    gint64 b = number(bus ? bus : "0", 0xffff);
    gint64 s = number(slot, 31);
    gint64 f = number(fn ? fn : "0", 7);

    if (dom != NULL && number(dom, 0xffff) != 0) {
        g_autofree char *what = describe(el);
        return bad(error, "%s: PCI domain %s: qtopo places on domain 0 only", what, dom);
    }
    if (b < 0 || s < 0 || f < 0) {
        g_autofree char *what = describe(el);
        return bad(error,
                   "%s: <address type='pci' bus='%s' slot='%s' function='%s'>: not a PCI "
                   "address (bus 0-0xff, slot 0-0x1f, function 0-7)",
                   what, bus ? bus : "", slot ? slot : "", fn ? fn : "");
    }
    item->bus = bus_of_index(l, b);
    item->slot = (int)s;
    item->function = (int)f;
    item->multifunction = g_strcmp0(mf, "on") == 0;
    return TRUE;
}

/* libvirt's PCI controller models and the QEMU type each makes when the
 * element names none (docs/formatdomain, "Controllers"; libvirt's
 * qemuDomainPCIControllerSetDefaultModelName) */
static const char *const controller_models[][2] = {
    {"pcie-root-port", "pcie-root-port"},
    {"pcie-switch-upstream-port", "x3130-upstream"},
    {"pcie-switch-downstream-port", "xio3130-downstream"},
    {"pci-bridge", "pci-bridge"},
    {"pcie-to-pci-bridge", "pcie-pci-bridge"},
    {"dmi-to-pci-bridge", "i82801b11-bridge"},
    {"pci-expander-bus", "pxb"},
    {"pcie-expander-bus", "pxb-pcie"},
    {"pci-root", "spapr-pci-host-bridge"},
};

/* libvirt's <target> attributes and the QEMU properties they set */
static const char *const target_props[][2] = {
    {"chassis", "chassis"}, {"port", "port"},   {"chassisNr", "chassis_nr"},
    {"busNr", "bus_nr"},    {"index", "index"},
};

/* the machine's built-in devices libvirt describes as controllers (q35's
 * SATA, pc's IDE): written at their addresses, an element the caller wrote
 * without one given it, so that libvirt adds none itself */
static void builtin_controllers(QtDomain *d, const QtLayout *l)
{
    const QtLayoutBus *root = qt_layout_main_bus(l);

    for (int slot = 0; slot < 32; slot++) {
        for (int fn = 0; fn < 8; fn++) {
            const QtLayoutNode *n = qt_layout_bus_use(root, slot, fn);
            gboolean always = FALSE, needed = FALSE;
            const char *type =
                n && n->builtin ? qt_libvirt_builtin_controller(n->driver, &always) : NULL;
            xmlNodePtr found = NULL;

            if (type == NULL)
                continue;
            for (xmlNodePtr el = d->devices->children; el; el = el->next) {
                g_autofree char *t = qt_xml_attr(el, "type");
                g_autofree char *index = qt_xml_attr(el, "index");
                g_autofree char *bus = qt_xml_attr(qt_xml_child(el, "target"), "bus");
                if (qt_xml_is_element(el, "controller") && g_strcmp0(t, type) == 0 &&
                    (index == NULL || number(index, 0xffff) == 0))
                    found = el;
                if (qt_xml_is_element(el, "disk") && g_strcmp0(bus, type) == 0)
                    needed = TRUE;
            }
            if (found != NULL && qt_xml_child(found, "address") != NULL)
                continue; /* the caller's address: kept */
            if (found == NULL && !always && !needed)
                continue;
            if (found == NULL) {
                found = xmlNewChild(d->devices, NULL, BAD_CAST "controller", NULL);
                xmlSetProp(found, BAD_CAST "type", BAD_CAST type);
                xmlSetProp(found, BAD_CAST "index", BAD_CAST "0");
            }
            xmlAddChild(found, qt_plan_libvirt_pci_address(0, slot, fn, FALSE));
        }
    }
}

/* does an <address type='pci'> of the document name bus @index? */
static gboolean bus_referenced(QtDomain *d, gint64 index)
{
    for (xmlNodePtr el = d->devices->children; el; el = el->next) {
        xmlNodePtr a = qt_xml_child(el, "address");
        g_autofree char *type = qt_xml_attr(a, "type");
        g_autofree char *bus = qt_xml_attr(a, "bus");
        if (g_strcmp0(type, "pci") == 0 && number(bus ? bus : "0", 0xffff) == index)
            return TRUE;
    }
    return FALSE;
}

static void set_default(QtPlaceItem *item, const char *name, char *value)
{
    QtProp *p;

    for (guint i = 0; i < item->properties->len; i++) {
        if (g_str_equal(((QtProp *)item->properties->pdata[i])->name, name)) {
            g_free(value);
            return;
        }
    }
    p = g_new0(QtProp, 1);
    p->name = g_strdup(name);
    p->value = value;
    g_ptr_array_add(item->properties, p);
}

/* what libvirt sets when <target> leaves it out (qemu_domain_address.c,
 * qemuDomainAssignPCIAddresses): a root port's chassis is its index and
 * its port (slot << 3) + function; a downstream port's chassis its index,
 * its port its slot; a pci-bridge's chassisNr its index */
static void libvirt_defaults(QtPlaceItem *item, const char *model, gint64 index)
{
    if (g_strcmp0(model, "pcie-root-port") == 0 && item->slot >= 0) {
        set_default(item, "chassis", g_strdup_printf("%" G_GINT64_FORMAT, index));
        set_default(item, "port", g_strdup_printf("0x%x", (item->slot << 3) + item->function));
    } else if (g_strcmp0(model, "pcie-switch-downstream-port") == 0 && item->slot >= 0) {
        set_default(item, "chassis", g_strdup_printf("%" G_GINT64_FORMAT, index));
        set_default(item, "port", g_strdup_printf("0x%x", item->slot));
    } else if (g_strcmp0(model, "pci-bridge") == 0) {
        set_default(item, "chassis_nr", g_strdup_printf("%" G_GINT64_FORMAT, index));
    }
}

/* a <controller type='pci'> of the caller's */
static gboolean pci_controller(QtDomain *d, xmlNodePtr el, const QtLayout *l, QtPlaceRequest *r,
                               int *spare_ports, GError **error)
{
    g_autofree char *index_s = qt_xml_attr(el, "index");
    g_autofree char *model = qt_xml_attr(el, "model");
    g_autofree char *name = qt_xml_attr(qt_xml_child(el, "model"), "name");
    xmlNodePtr addr = qt_xml_child(el, "address");
    xmlNodePtr target = qt_xml_child(el, "target");
    g_autofree char *atype = qt_xml_attr(addr, "type");
    gint64 index = number(index_s, QT_LIBVIRT_INDEX_MAX);
    const char *driver = name;
    g_autofree char *id = NULL;
    g_autofree char *what = describe(el);
    QtPlaceItem *item;

    if (index == 0 || g_strcmp0(model, "pcie-root") == 0 ||
        (g_strcmp0(model, "pci-root") == 0 && index <= 0))
        return TRUE; /* the machine's root bus */
    if (addr == NULL && g_strcmp0(model, "pci-root") != 0) {
        if (g_strcmp0(model, "pcie-root-port") == 0 && (index < 0 || !bus_referenced(d, index))) {
            /* an empty root port asked for as nova and virt-install do
             * (no address, nothing on it): a hotplug slot; the plan keeps
             * one for each and adds the port itself */
            (*spare_ports)++;
            xmlUnlinkNode(el);
            xmlFreeNode(el);
            return TRUE;
        }
        g_ptr_array_add(d->unmapped,
                        g_strdup_printf("%s: a PCI controller without an address: give it one "
                                        "(qtopo adds the controllers a plan needs itself)",
                                        what));
        return TRUE;
    }
    if (addr != NULL && g_strcmp0(atype, "pci") != 0)
        return bad(error, "%s: an address of type '%s'", what, atype ? atype : "");
    if (index < 0)
        return bad(error, "%s: a PCI controller with an address needs its index", what);
    for (gsize i = 0; driver == NULL && i < G_N_ELEMENTS(controller_models); i++)
        if (g_strcmp0(model, controller_models[i][0]) == 0)
            driver = controller_models[i][1];
    if (driver == NULL)
        return bad(error, "%s: an unknown PCI controller model", what);
    if (!has_type(driver, (gpointer)l->e)) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNKNOWN_DEVICE,
                    "domainXml: %s: %s has no device type %s", what, l->e->path, driver);
        return FALSE;
    }
    id = g_strdup_printf("pci.%" G_GINT64_FORMAT, index);
    if (!g_hash_table_add(d->ids, g_strdup(id)))
        return bad(error, "%s: index %" G_GINT64_FORMAT " twice", what, index);
    item = qt_place_item_new(id, driver);
    item->libvirt_index = (int)index;
    if (addr != NULL && !address_item(el, addr, l, item, error)) {
        qt_place_item_free(item);
        return FALSE;
    }
    item->properties = g_ptr_array_new_with_free_func((GDestroyNotify)qt_prop_free);
    for (gsize i = 0; i < G_N_ELEMENTS(target_props); i++) {
        g_autofree char *v = qt_xml_attr(target, target_props[i][0]);
        if (v != NULL) {
            QtProp *p = g_new0(QtProp, 1);
            p->name = g_strdup(target_props[i][1]);
            p->value = g_steal_pointer(&v);
            g_ptr_array_add(item->properties, p);
        }
    }
    libvirt_defaults(item, model, index);
    {
        g_autofree char *node = text_of(qt_xml_child(target, "node"));
        gint64 n = number(node, 127);
        if (node != NULL && n < 0) {
            qt_place_item_free(item);
            return bad(error, "%s: <node>%s</node>: not a NUMA node (0-127)", what, node);
        }
        item->numa_node = (int)n;
    }
    g_ptr_array_add(r->existing, item);
    return TRUE;
}

/* a device element: the caller's at its PCI address, or one to place */
static gboolean device_element(QtDomain *d, xmlNodePtr el, const QtLibvirtContext *ctx,
                               gboolean first_video, const QtLayout *l, QtPlaceRequest *r,
                               GError **error)
{
    g_autofree char *driver = NULL;
    g_autofree char *why = NULL;
    g_autofree char *what = describe(el);
    xmlNodePtr addr = qt_xml_child(el, "address");
    g_autofree char *atype = qt_xml_attr(addr, "type");
    QtLibvirtKind kind = qt_libvirt_device_type(el, ctx, first_video, &driver, &why);
    QtPlaceItem *item;
    DomainDevice *dd;

    if (kind == QT_LIBVIRT_NOT_PCI)
        return TRUE;
    if (kind == QT_LIBVIRT_UNMAPPED) {
        g_ptr_array_add(d->unmapped, g_strdup_printf("%s: %s", what, why ? why : "not mapped"));
        return TRUE;
    }
    if (addr != NULL && g_strcmp0(atype, "pci") != 0)
        return TRUE; /* the caller put it elsewhere (virtio-mmio, ccw, spapr-vio) */
    if (!has_type(driver, (gpointer)l->e)) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNKNOWN_DEVICE,
                    "domainXml: %s: libvirt makes a %s of it, which %s does not have", what, driver,
                    l->e->path);
        return FALSE;
    }
    item = qt_place_item_new(NULL, driver);
    item->id = id_for(d, el);
    if (addr == NULL) {
        int slot, fn;
        if (qt_libvirt_fixed_address(el, driver, &slot, &fn)) {
            /* where libvirt insists it goes: there, as the caller's */
            const QtLayoutNode *n = NULL;
            QtLayoutBus *root = qt_layout_main_bus(l);
            n = qt_layout_bus_use(root, slot, fn);
            if (n != NULL) {
                qt_place_item_free(item);
                return bad(error, "%s: libvirt puts it at 00:%02x.%x, where the machine has %s",
                           what, slot, fn, n->driver);
            }
            addr = qt_plan_libvirt_pci_address(0, slot, fn, FALSE);
            xmlAddChild(el, addr);
        }
    }
    if (addr != NULL) {
        if (!address_item(el, addr, l, item, error)) {
            qt_place_item_free(item);
            return FALSE;
        }
        g_ptr_array_add(r->existing, item);
        return TRUE;
    }
    {
        /* what the document's metadata says of it */
        g_autofree char *alias = qt_xml_attr(qt_xml_child(el, "alias"), "name");
        const DeviceWish *w = alias ? g_hash_table_lookup(d->wishes, alias) : NULL;
        if (w != NULL) {
            item->numa_node = w->numa_node;
            item->hotpluggable = w->hotpluggable;
            item->group = g_strdup(w->group);
        }
    }
    g_ptr_array_add(r->devices, item);
    dd = g_new0(DomainDevice, 1);
    dd->el = el;
    dd->id = g_strdup(item->id);
    g_ptr_array_add(d->placed, dd);
    return TRUE;
}

gboolean qt_domain_xml_fill(QtDomain *d, const QtEmulator *e, QtPlaceRequest *r, GError **error)
{
    g_autoptr(QtLayout) l = qt_layout_new(e, r->machine, error);
    QtLibvirtContext ctx = {0};
    g_autoptr(GPtrArray) implicit = NULL;
    gboolean first_video = TRUE;
    int spare_ports = 0;
    xmlNodePtr next;

    if (l == NULL)
        return FALSE;
    ctx.arch = d->arch;
    ctx.pcie_root = qt_layout_main_bus(l)->kind == QT_BUS_PCIE;
    ctx.has_type = TRUE;
    ctx.has_type_fn = has_type;
    ctx.has_type_data = (gpointer)e;
    /* the caller's PCI controllers first: devices' addresses name them */
    for (xmlNodePtr el = d->devices->children; el; el = next) {
        g_autofree char *type = NULL;
        next = el->next;
        if (!qt_xml_is_element(el, "controller"))
            continue;
        type = qt_xml_attr(el, "type");
        if (g_strcmp0(type, "pci") == 0 && !pci_controller(d, el, l, r, &spare_ports, error))
            return FALSE;
    }
    for (xmlNodePtr el = d->devices->children; el; el = el->next) {
        g_autofree char *type = NULL;
        if (el->type != XML_ELEMENT_NODE || qt_xml_is_element(el, "emulator"))
            continue;
        if (qt_xml_is_element(el, "controller")) {
            type = qt_xml_attr(el, "type");
            if (g_strcmp0(type, "pci") == 0)
                continue;
        }
        if (!device_element(d, el, &ctx, qt_xml_is_element(el, "video") && first_video, l, r,
                            error))
            return FALSE;
        if (qt_xml_is_element(el, "video"))
            first_video = FALSE;
    }
    /* what libvirt would add by itself on PCI: added here, and placed */
    implicit = qt_libvirt_implicit_devices(d->devices, d->machine, &ctx);
    for (guint i = 0; implicit && i < implicit->len; i++) {
        xmlNodePtr el = implicit->pdata[i];
        implicit->pdata[i] = NULL;
        xmlAddChild(d->devices, el);
        if (!device_element(d, el, &ctx, FALSE, l, r, error))
            return FALSE;
    }
    builtin_controllers(d, l);
    if (spare_ports > 0 && r->spares < spare_ports)
        r->spares = spare_ports;
    return TRUE;
}

char *qt_domain_xml_complete(QtDomain *d, const QtPlan *plan, GError **error)
{
    const QtLayout *l = plan->layout;
    xmlNodePtr after = NULL;
    xmlChar *out = NULL;
    int len = 0;
    char *text;

    g_return_val_if_fail(!d->completed, NULL);
    d->completed = TRUE;
    for (guint i = 0; i < d->placed->len; i++) {
        const DomainDevice *dd = d->placed->pdata[i];
        const QtLayoutNode *n = g_hash_table_lookup(l->by_id, dd->id);
        if (n != NULL && n->bus != NULL)
            xmlAddChild(dd->el, qt_plan_libvirt_address(l, n));
    }
    /* the plan's controllers after the caller's, parents first */
    for (xmlNodePtr c = d->devices->children; c; c = c->next)
        if (qt_xml_is_element(c, "controller") || qt_xml_is_element(c, "emulator"))
            after = c;
    for (guint i = 0; i < plan->controllers->len; i++) {
        xmlNodePtr c = qt_plan_libvirt_controller(l, plan->controllers->pdata[i]);
        if (after != NULL)
            xmlAddNextSibling(after, c);
        else if (d->devices->children != NULL)
            xmlAddPrevSibling(d->devices->children, c);
        else
            xmlAddChild(d->devices, c);
        after = c;
    }
    xmlDocDumpFormatMemoryEnc(d->doc, &out, &len, "UTF-8", 1);
    if (out == NULL) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_INVALID_REQUEST,
                    "domainXml: the completed document could not be written");
        return NULL;
    }
    text = g_strndup((const char *)out, len);
    xmlFree(out);
    return text;
}
