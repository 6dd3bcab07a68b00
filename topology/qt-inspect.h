/* QtInspection: a running VM's PCI topology, read over the QMP monitor the
 * VM was started with for this purpose (-qmp unix:PATH,server=on,wait=off
 * or a libvirt-style monitor socket).
 *
 * Read-only: the QMP greeting, query-target, query-status, the machine
 * object's QOM type, the PCI bus types (qom-list-types implements=PCI),
 * HMP "info qtree", query-pci, and per PCI bus its QOM hotplug-handler
 * (and that object's type), and devices' QOM "hotpluggable" flags.
 * Every query is pipelined; nothing is ever changed in the VM.
 *
 * Which buses hotplug how, and which devices are the machine type's own,
 * are decided by the caller against the emulator's model
 * (policy/qt-live.h). */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define QT_INSPECT_ERROR (qt_inspect_error_quark())
GQuark qt_inspect_error_quark(void);

typedef enum {
    /* no socket there, or nobody listening on it */
    QT_INSPECT_ERROR_UNREACHABLE,
    /* the socket exists, but this process may not connect to it */
    QT_INSPECT_ERROR_ACCESS_DENIED,
    /* the peer does not speak QMP (no greeting, or garbage) */
    QT_INSPECT_ERROR_NOT_QMP,
    /* the VM went away during the inspection */
    QT_INSPECT_ERROR_VM_GONE,
    /* QEMU's answers could not be understood */
    QT_INSPECT_ERROR_PARSE,
} QtInspectErrorCode;

typedef struct {
    char *id; /* "" when QEMU has none */
    char *driver;
    char *bus; /* the PCI bus it sits on; NULL when on none (a host bridge) */
    int slot;
    int function;
    gboolean multifunction;
    /* QOM "hotpluggable" (devices with an id; FALSE when unknown) */
    gboolean hotpluggable;
    gboolean hotpluggable_known;
    GHashTable *props;   /* name -> value, as info qtree shows them */
    GPtrArray *provides; /* names of the PCI buses it provides */
} QtInspectedDevice;

typedef struct {
    char *name;
    char *qom_type;         /* "PCIE", "PCI", ... */
    char *owner_id;         /* the device providing it ("" when it has no id) */
    char *owner_type;       /* its type */
    char *handler;          /* QOM path of its hotplug handler; NULL: none */
    gboolean handler_known; /* QOM answered (a bus it cannot resolve stays unknown) */
    char *handler_type;     /* that object's type */
    int number;             /* the bus number the guest gave it; -1 before enumeration */
    int depth;              /* PCI buses above it */
} QtInspectedBus;

typedef struct {
    char *qmp_path;
    char *version; /* from the greeting: "7.2.22" */
    char *package;
    char *target;  /* query-target */
    char *machine; /* the machine type's name (its QOM type less "-machine") */
    char *status;  /* query-status: "running", "prelaunch", "paused", ... */
    gboolean running;
    /* the guest enumerated the buses (query-pci gave a bridge a bus number) */
    gboolean enumerated;
    pid_t pid;          /* the peer's pid from the socket's credentials; 0 when unknown */
    GPtrArray *buses;   /* QtInspectedBus: every PCI bus, parents first */
    GPtrArray *devices; /* QtInspectedDevice: every device on or providing a PCI bus */
    double ms;
} QtInspection;

void qt_inspection_free(QtInspection *insp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtInspection, qt_inspection_free)

/* inspect the VM whose QMP monitor listens at @qmp_path; @timeout_ms bounds
 * the greeting and each query (0: 5 s).  @exhaustive: ask every PCI bus
 * for its hotplug handler and every device with an id for its QOM
 * "hotpluggable"; otherwise one of each group of equals is asked and the
 * others take its answer (qt-inspect.c says what makes them equal) */
/* who asks, when it is not this process (qtopod's caller): the socket is
 * opened only as they could open it themselves.  Every directory on the
 * way must be searchable and the socket writable by @uid, @gid or one of
 * @groups (mode bits; an entry with an ACL only by its owner), symbolic
 * links followed by hand and each step held open (O_PATH), so that what is
 * checked is what is connected to (through /proc/self/fd).  Refused:
 * QT_INSPECT_ERROR_ACCESS_DENIED, saying nothing of what lies beyond a
 * directory the caller may not search */
typedef struct {
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    gsize n_groups;
} QtInspectPeer;

/* @peer NULL: with this process's own rights (qtopoctl --direct).  With a
 * @peer, a socket whose server is this very process (qtopod's own) is
 * QT_INSPECT_ERROR_NOT_QMP at once */
void qt_inspect_async(const char *qmp_path, const QtInspectPeer *peer, guint timeout_ms,
                      gboolean exhaustive, GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data);
QtInspection *qt_inspect_finish(GAsyncResult *result, GError **error);

const QtInspectedBus *qt_inspection_find_bus(const QtInspection *insp, const char *name);

G_END_DECLS
