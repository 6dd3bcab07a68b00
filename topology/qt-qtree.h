/* QtQtree: the device tree QEMU prints with HMP "info qtree".
 *
 * The format is text for people and unstable across QEMU versions, so the
 * parser takes only what it needs and is strict about structure: "bus:",
 * "type", "dev:" lines and "name = value" properties, indented two spaces
 * per level.  Anything it cannot place is an error, never a guess. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _QtQtreeBus QtQtreeBus;
typedef struct _QtQtreeDev QtQtreeDev;

struct _QtQtreeDev {
    char *type;
    char *id;           /* "" when QEMU gave none */
    GHashTable *props;  /* name -> first token of the value ("1f.3", "true", "1") */
    GPtrArray *buses;   /* QtQtreeBus, the buses this device provides */
    QtQtreeBus *parent; /* borrowed */
};

struct _QtQtreeBus {
    char *name;
    char *type;         /* "PCIE", "PCI", "System", ... */
    GPtrArray *devices; /* QtQtreeDev */
    QtQtreeDev *parent; /* borrowed; NULL for the system bus */
};

/* parse; the result is the system bus at the root */
QtQtreeBus *qt_qtree_parse(const char *text, GError **error);
void qt_qtree_bus_free(QtQtreeBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtQtreeBus, qt_qtree_bus_free)

/* a property of @dev, or NULL */
const char *qt_qtree_dev_get(const QtQtreeDev *dev, const char *prop);
/* "addr = 1f.3" as slot and function; FALSE when absent or malformed */
gboolean qt_qtree_dev_get_addr(const QtQtreeDev *dev, int *slot, int *function);

/* call @func for every bus of the tree, depth first, parents first */
typedef void (*QtQtreeBusFunc)(QtQtreeBus *bus, gpointer user_data);
void qt_qtree_foreach_bus(QtQtreeBus *root, QtQtreeBusFunc func, gpointer user_data);
/* the device with id @id (and, when @type is not NULL, of that type: a
 * pxb gives its internal bridge its own id), or NULL */
QtQtreeDev *qt_qtree_find_dev(QtQtreeBus *root, const char *id, const char *type);
/* the bus called @name, or NULL */
QtQtreeBus *qt_qtree_find_bus(QtQtreeBus *root, const char *name);

G_END_DECLS
