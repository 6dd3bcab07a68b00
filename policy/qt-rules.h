/* the rules placement obeys and validation checks, in one reviewed place
 * (qt-rules.c): PCI/PCIe specification rules keyed by role, and QEMU
 * behaviours the model cannot show by trial.  Each problem names its rule
 * by a stable identifier (docs/placement.md lists them). */
#pragma once

#include <glib.h>

#include "qt-layout.h"

G_BEGIN_DECLS

typedef struct {
    char *device;  /* the id of the device or controller at fault */
    char *rule;    /* "slot-behind-port", "root-port-on-pcie-root"... */
    char *message; /* what is wrong, for people */
} QtProblem;

void qt_problem_free(QtProblem *p);
QtProblem *qt_problem_new(const char *device, const char *rule, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* x86's 64 KiB of I/O port space in 4 KiB bridge windows, less what the
 * chipset and integrated devices use (QEMU docs/pcie.txt, "IO space") */
#define QT_RULES_IO_WINDOWS 10
/* an 8-bit bus number (PCI Local Bus spec 3.0, 3.2.2.3.1) */
#define QT_RULES_BUS_NUMBERS 256

/* the slots of a bus a device may use: the model's mask less what a rule
 * forbids */
guint32 qt_rules_usable_slots(const QtLayout *l, const QtLayoutBus *bus);

/* may @n sit on @bus at its slot?  NULL when it may, else a problem */
QtProblem *qt_rules_check_place(const QtLayout *l, const QtLayoutNode *n, const QtLayoutBus *bus,
                                int slot);

/* rules over the whole layout (functions, chassis numbers, bus numbers,
 * I/O windows, host-bridge indexes): each problem is added to @problems */
void qt_rules_check_layout(const QtLayout *l, GPtrArray *problems);

/* is @n hotpluggable where it sits: its bus has a hotplug handler and QEMU
 * lets its class be hotplugged */
gboolean qt_rules_hotpluggable(const QtLayout *l, const QtLayoutNode *n);

/* does a port of this model need io-reserve=0 to stay out of the I/O
 * budget (the class shows QEMU reserving I/O for it by default) */
gboolean qt_rules_port_reserves_io(const QtLayout *l, const char *driver);

/* does @n take a 4 KiB I/O window */
gboolean qt_rules_takes_io_window(const QtLayout *l, const QtLayoutNode *n);

/* bus numbers the hierarchy under @root takes (the root bus's own included) */
int qt_rules_bus_numbers_under(const QtLayout *l, const QtLayoutBus *root);

/* the buses of the hierarchy under the root bus @root, @root's own
 * included, not those of other root buses below it */
int qt_rules_buses_of_root(const QtLayout *l, const QtLayoutBus *root);

/* I/O windows taken in the I/O space of @root's hierarchy */
int qt_rules_io_windows_under(const QtLayout *l, const QtLayoutBus *root);

/* the root bus a bus hangs under (expanders count as their parent's) */
const QtLayoutBus *qt_rules_io_domain(const QtLayout *l, const QtLayoutBus *bus);

G_END_DECLS
