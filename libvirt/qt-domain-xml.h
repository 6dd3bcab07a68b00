/* domain XML mode: a libvirt domain XML in, the same document out with
 * every PCI device addressed and the PCI controllers it needs added.
 *
 *   1. qt_domain_xml_read(): parse (libxml2, no network, no entities),
 *      and take the emulator, machine type, architecture and NUMA cells;
 *   2. qt_domain_xml_fill(): with the binary's model, turn <devices> into
 *      a placement request: elements with a PCI <address> and the PCI
 *      controllers with one are the existing VM, the other PCI devices are
 *      placed (libvirt's vocabulary: qt-libvirt-vocab.h), and what libvirt
 *      would add by itself on PCI is added and placed too;
 *   3. qt_place() the request;
 *   4. qt_domain_xml_complete(): the plan's addresses and controllers go
 *      into the document, which is written out.
 *
 * Elements that take no PCI address are left as they are; elements that
 * may be PCI devices but are not in the vocabulary are left as they are
 * and listed (qt_domain_xml_unmapped()). */
#pragma once

#include <glib.h>

#include "qt-emulator.h"
#include "qt-place-request.h"
#include "qt-plan.h"

G_BEGIN_DECLS

/* a document at most this long is read */
#define QT_DOMAIN_XML_MAX (16 * 1024 * 1024)

typedef struct _QtDomain QtDomain;

/* @text, @len: the domain XML.  NULL and QT_PLACE_ERROR_INVALID_REQUEST
 * (naming what is wrong) when it is not a libvirt QEMU domain */
QtDomain *qt_domain_xml_read(const char *text, gsize len, GError **error);
void qt_domain_free(QtDomain *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtDomain, qt_domain_free)

/* from <emulator> (else "qemu-system-" and <os><type arch>) and <os><type
 * machine> */
const char *qt_domain_xml_emulator(const QtDomain *d);
const char *qt_domain_xml_machine(const QtDomain *d);

/* the namespace of qtopo's element in a domain's <metadata> */
#define QT_DOMAIN_XML_NS "urn:qtopo:placement:1"

/* what the document's <metadata><qtopo:placement> says: the policy (NULL
 * when it says none) and the spare slots (-1) a call that names none gets */
const char *qt_domain_xml_policy(const QtDomain *d);
int qt_domain_xml_spares(const QtDomain *d);

/* add the domain's devices and existing VM to @r (whose emulator, machine
 * and policy are set), using @e's model: QT_PLACE_ERROR_UNKNOWN_DEVICE
 * naming the element when libvirt would make a device type the binary
 * lacks; QT_PLACE_ERROR_INVALID_REQUEST for an element qtopo cannot take
 * (a PCI address on a bus no controller provides, say) */
gboolean qt_domain_xml_fill(QtDomain *d, const QtEmulator *e, QtPlaceRequest *r, GError **error);

/* the elements left alone that may be PCI devices: "<sound model='x'>:
 * why", in document order */
const GPtrArray *qt_domain_xml_unmapped(const QtDomain *d);

/* put @plan's addresses and controllers into the document and write it
 * (UTF-8, indented); NULL on a failure to write */
char *qt_domain_xml_complete(QtDomain *d, const QtPlan *plan, GError **error);

G_END_DECLS
