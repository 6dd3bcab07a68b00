#include "qt-machine-type.h"

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

const char *qt_machine_status_to_string(QtMachineStatus s)
{
    if ((guint)s >= G_N_ELEMENTS(status_names))
        return NULL;
    return status_names[s];
}

gboolean qt_machine_status_from_string(const char *s, QtMachineStatus *out)
{
    for (guint i = 0; s != NULL && i < G_N_ELEMENTS(status_names); i++) {
        if (g_str_equal(s, status_names[i])) {
            *out = (QtMachineStatus)i;
            return TRUE;
        }
    }
    return FALSE;
}
