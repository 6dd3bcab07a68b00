#include "qt-plan-libvirt.h"

#include <libxml/xmlsave.h>

#include "qt-util.h"

static void set_hex(xmlNodePtr node, const char *name, guint v, int width)
{
    g_autoptr(GString) s = g_string_new(NULL);

    qt_append_hex(s, v, width);
    xmlSetProp(node, BAD_CAST name, BAD_CAST s->str);
}

static void set_int(xmlNodePtr node, const char *name, gint64 v)
{
    g_autoptr(GString) s = g_string_new(NULL);

    qt_append_int(s, v);
    xmlSetProp(node, BAD_CAST name, BAD_CAST s->str);
}

xmlNodePtr qt_plan_libvirt_pci_address(int bus_index, int slot, int function,
                                       gboolean multifunction)
{
    xmlNodePtr a = xmlNewNode(NULL, BAD_CAST "address");

    xmlSetProp(a, BAD_CAST "type", BAD_CAST "pci");
    xmlSetProp(a, BAD_CAST "domain", BAD_CAST "0x0000");
    set_hex(a, "bus", (guint)bus_index, 2);
    set_hex(a, "slot", (guint)slot, 2);
    set_hex(a, "function", (guint)function, 1);
    if (multifunction)
        xmlSetProp(a, BAD_CAST "multifunction", BAD_CAST "on");
    return a;
}

xmlNodePtr qt_plan_libvirt_address(const QtLayout *l, const QtLayoutNode *n)
{
    const QtLayoutBus *b = qt_layout_find_bus(l, n->bus);

    return qt_plan_libvirt_pci_address(b ? b->index : 0, n->slot, n->function, n->multifunction);
}

/* docs/formatdomain, "Controllers": the models of type='pci' */
const char *qt_plan_libvirt_model(const QtLayout *l, const QtLayoutNode *n)
{
    const QtLayoutBus *b = n->provides ? qt_layout_find_bus(l, n->provides) : NULL;

    switch (n->role) {
    case QT_ROLE_ROOT_PORT:
        return "pcie-root-port";
    case QT_ROLE_SWITCH_UPSTREAM:
        return "pcie-switch-upstream-port";
    case QT_ROLE_SWITCH_DOWNSTREAM:
        return "pcie-switch-downstream-port";
    case QT_ROLE_PCIE_PCI_BRIDGE:
        return "pcie-to-pci-bridge";
    case QT_ROLE_EXPANDER_BUS:
        return b && b->kind == QT_BUS_PCIE ? "pcie-expander-bus" : "pci-expander-bus";
    case QT_ROLE_HOST_BRIDGE:
        /* a pseries host bridge: another pci-root, told apart by its
         * <target index> */
        return "pci-root";
    case QT_ROLE_PCI_BRIDGE:
    default:
        return "pci-bridge";
    }
}

/* QEMU's property -> libvirt's <target> attribute (docs/formatdomain,
 * "Controllers": chassis and port of ports, chassisNr of pci-bridge,
 * busNr of expander buses, index of pseries host bridges) */
static const char *const target_attrs[][2] = {
    {"chassis", "chassis"}, {"port", "port"},   {"chassis_nr", "chassisNr"},
    {"bus_nr", "busNr"},    {"index", "index"},
};

xmlNodePtr qt_plan_libvirt_controller(const QtLayout *l, const QtLayoutNode *n)
{
    const QtLayoutBus *b = n->provides ? qt_layout_find_bus(l, n->provides) : NULL;
    xmlNodePtr c = xmlNewNode(NULL, BAD_CAST "controller");
    xmlNodePtr model, target = NULL;

    xmlSetProp(c, BAD_CAST "type", BAD_CAST "pci");
    set_int(c, "index", b ? b->index : 0);
    xmlSetProp(c, BAD_CAST "model", BAD_CAST qt_plan_libvirt_model(l, n));
    model = xmlNewChild(c, NULL, BAD_CAST "model", NULL);
    xmlSetProp(model, BAD_CAST "name", BAD_CAST n->driver);
    for (gsize i = 0; i < G_N_ELEMENTS(target_attrs); i++) {
        const char *v = qt_layout_node_get_prop(n, target_attrs[i][0]);
        if (v == NULL)
            continue;
        if (target == NULL)
            target = xmlNewChild(c, NULL, BAD_CAST "target", NULL);
        xmlSetProp(target, BAD_CAST target_attrs[i][1], BAD_CAST v);
    }
    /* libvirt takes <node> on expander buses and pseries host bridges
     * only; a port or bridge below them is on their node by its bus */
    if (n->numa_node >= 0 && (n->role == QT_ROLE_EXPANDER_BUS || n->role == QT_ROLE_HOST_BRIDGE)) {
        g_autoptr(GString) s = g_string_new(NULL);
        if (target == NULL)
            target = xmlNewChild(c, NULL, BAD_CAST "target", NULL);
        qt_append_int(s, n->numa_node);
        xmlNewTextChild(target, NULL, BAD_CAST "node", BAD_CAST s->str);
    }
    if (n->bus != NULL)
        xmlAddChild(c, qt_plan_libvirt_address(l, n));
    return c;
}

char *qt_plan_libvirt_text(xmlNodePtr node)
{
    xmlBufferPtr buf = xmlBufferCreate();
    char *text;

    xmlNodeDump(buf, NULL, node, 0, 0);
    text = g_strndup((const char *)xmlBufferContent(buf), xmlBufferLength(buf));
    xmlBufferFree(buf);
    xmlFreeNode(node);
    return text;
}
