/* QtMachineType: one machine type of an emulator and how its probe went */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    QT_MACHINE_UNPROBED,
    QT_MACHINE_OK,
    QT_MACHINE_FAILED, /* error holds QEMU's own message */
} QtMachineStatus;

typedef struct {
    char *name;
    char *alias;
    gboolean is_default;
    gboolean deprecated;
    QtMachineStatus status;
    char *error;
    char *class_id; /* the QtTopologyClass, when status is OK */
    double probe_ms;
} QtMachineType;

QtMachineType *qt_machine_type_new(const char *name);
void qt_machine_type_free(QtMachineType *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtMachineType, qt_machine_type_free)

const char *qt_machine_status_to_string(QtMachineStatus s);
gboolean qt_machine_status_from_string(const char *s, QtMachineStatus *out);

G_END_DECLS
