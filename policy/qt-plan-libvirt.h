/* a plan in libvirt's domain XML terms: the <controller type='pci'>
 * elements of the controllers it adds and the <address type='pci'> of
 * every controller and device, made with libxml2.
 *
 * The reference is libvirt's docs/formatdomain ("Controllers", "Device
 * Addresses") and docs/pci-addresses: an address's bus is the index of
 * the controller that provides the bus (0: the machine's root bus), not a
 * guest bus number; a controller's QEMU id is "pci.N" for index N. */
#pragma once

#include <libxml/tree.h>

#include "qt-layout.h"

G_BEGIN_DECLS

/* <address type='pci' domain='0x0000' bus=@bus_index slot= function=
 * [multifunction='on']> */
xmlNodePtr qt_plan_libvirt_pci_address(int bus_index, int slot, int function,
                                       gboolean multifunction);

/* the <address type='pci' .../> element of @n (which sits on a bus) */
xmlNodePtr qt_plan_libvirt_address(const QtLayout *l, const QtLayoutNode *n);

/* the <controller type='pci'> element of the controller @n: index, model,
 * <model name>, <target> with the properties libvirt has attributes for
 * (and <node> where libvirt takes one: expander buses and host bridges),
 * and its <address> unless it is a host bridge */
xmlNodePtr qt_plan_libvirt_controller(const QtLayout *l, const QtLayoutNode *n);

/* libvirt's controller model for the controller @n ("pcie-root-port",
 * "pci-expander-bus", ...) */
const char *qt_plan_libvirt_model(const QtLayout *l, const QtLayoutNode *n);

/* @node as XML text, no declaration; @node is freed */
char *qt_plan_libvirt_text(xmlNodePtr node);

G_END_DECLS
