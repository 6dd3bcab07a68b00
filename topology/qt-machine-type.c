#include "qt-machine-type.h"

#include "qt-enum-private.h"

QtMachineType *qt_machine_type_new(const char *name)
{
    QtMachineType *m = g_new0(QtMachineType, 1);

    m->name = g_strdup(name);
    m->status = QT_MACHINE_UNPROBED;
    return m;
}

void qt_machine_type_free(QtMachineType *m)
{
    if (m == NULL)
        return;
    g_free(m->name);
    g_free(m->alias);
    g_free(m->error);
    g_free(m->class_id);
    g_free(m);
}

static const char *const status_names[] = {
    [QT_MACHINE_UNPROBED] = "unprobed",
    [QT_MACHINE_OK] = "ok",
    [QT_MACHINE_FAILED] = "failed",
};

QT_DEFINE_ENUM_NAMES(QtMachineStatus, qt_machine_status, status_names)
