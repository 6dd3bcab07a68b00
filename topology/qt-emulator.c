#include "qt-emulator.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "qt-probe-error.h"
#include "qt-qemu-instance.h"

QtEmulator *qt_emulator_new(const char *path)
{
    QtEmulator *e = g_new0(QtEmulator, 1);

    e->path = g_strdup(path);
    e->hotplug_tried = TRUE;
    e->machines = g_ptr_array_new_with_free_func((GDestroyNotify)qt_machine_type_free);
    /* the table owns a copy of each name as its key, so that replacing or
     * freeing a device type never leaves a dangling key */
    e->devices =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)qt_device_type_free);
    e->classes = g_ptr_array_new_with_free_func((GDestroyNotify)qt_topology_class_free);
    e->endpoints = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)qt_endpoint_trial_free);
    return e;
}

QtEndpointTrial *qt_endpoint_trial_new(const char *machine, const char *driver,
                                       QtEndpointVerdict verdict, QtProvenance *provenance)
{
    QtEndpointTrial *t = g_new0(QtEndpointTrial, 1);

    t->machine = g_strdup(machine);
    t->driver = g_strdup(driver);
    t->verdict = verdict;
    t->provenance = provenance;
    return t;
}

void qt_endpoint_trial_free(QtEndpointTrial *t)
{
    if (t == NULL)
        return;
    g_free(t->machine);
    g_free(t->driver);
    qt_provenance_free(t->provenance);
    g_free(t);
}

static const char *const verdict_names[] = {
    [QT_ENDPOINT_ACCEPTED] = "accepted",
    [QT_ENDPOINT_REFUSED] = "refused",
    [QT_ENDPOINT_UNDETERMINED] = "undetermined",
};

const char *qt_endpoint_verdict_to_string(QtEndpointVerdict v)
{
    return (guint)v < G_N_ELEMENTS(verdict_names) ? verdict_names[v] : NULL;
}

gboolean qt_endpoint_verdict_from_string(const char *s, QtEndpointVerdict *out)
{
    for (guint i = 0; s != NULL && i < G_N_ELEMENTS(verdict_names); i++) {
        if (g_str_equal(s, verdict_names[i])) {
            *out = (QtEndpointVerdict)i;
            return TRUE;
        }
    }
    return FALSE;
}

const QtEndpointTrial *qt_emulator_find_endpoint(const QtEmulator *e, const char *machine,
                                                 const char *driver)
{
    char buf[256];
    g_autofree char *big = NULL;
    const char *key = buf;

    if (machine == NULL || driver == NULL || g_hash_table_size(e->endpoints) == 0)
        return NULL;
    if ((gsize)g_snprintf(buf, sizeof buf, "%s\n%s", machine, driver) >= sizeof buf)
        key = big = g_strconcat(machine, "\n", driver, NULL);
    return g_hash_table_lookup(e->endpoints, key);
}

void qt_emulator_add_endpoint(QtEmulator *e, QtEndpointTrial *t)
{
    g_hash_table_replace(e->endpoints, g_strconcat(t->machine, "\n", t->driver, NULL), t);
}

void qt_emulator_free(QtEmulator *e)
{
    if (e == NULL)
        return;
    g_free(e->path);
    g_free(e->version);
    g_free(e->package);
    g_free(e->target);
    g_free(e->accel);
    g_clear_pointer(&e->instance_args, g_ptr_array_unref);
    qt_provenance_free(e->instance_args_provenance);
    if (e->machines != NULL)
        g_ptr_array_unref(e->machines);
    if (e->devices != NULL)
        g_hash_table_unref(e->devices);
    if (e->classes != NULL)
        g_ptr_array_unref(e->classes);
    if (e->endpoints != NULL)
        g_hash_table_unref(e->endpoints);
    g_free(e);
}

static gint64 timespec_ns(const struct timespec *ts)
{
    return (gint64)ts->tv_sec * G_GINT64_CONSTANT(1000000000) + (gint64)ts->tv_nsec;
}

gboolean qt_emulator_identity_read(const char *path, QtEmulatorIdentity *out, GError **error)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        int saved = errno;
        g_set_error(error, QT_PROBE_ERROR,
                    saved == ENOENT || saved == ENOTDIR ? QT_PROBE_ERROR_NOT_FOUND
                                                        : QT_PROBE_ERROR_EMULATOR_FAILED,
                    "cannot stat %s: %s", path, g_strerror(saved));
        return FALSE;
    }
    out->size = (gint64)st.st_size;
    out->mtime_ns = timespec_ns(&st.st_mtim);
    out->ctime_ns = timespec_ns(&st.st_ctim);
    out->inode = (guint64)st.st_ino;
    out->device = (guint64)st.st_dev;
    return TRUE;
}

gboolean qt_emulator_identity_equal(const QtEmulatorIdentity *a, const QtEmulatorIdentity *b)
{
    return a->size == b->size && a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns &&
           a->inode == b->inode && a->device == b->device;
}

QtMachineType *qt_emulator_find_machine(const QtEmulator *e, const char *name_or_alias)
{
    if (name_or_alias == NULL)
        return NULL;
    /* a name wins over another machine's alias */
    for (guint i = 0; i < e->machines->len; i++) {
        QtMachineType *m = e->machines->pdata[i];
        if (g_strcmp0(m->name, name_or_alias) == 0)
            return m;
    }
    for (guint i = 0; i < e->machines->len; i++) {
        QtMachineType *m = e->machines->pdata[i];
        if (g_strcmp0(m->alias, name_or_alias) == 0)
            return m;
    }
    return NULL;
}

QtTopologyClass *qt_emulator_find_class(const QtEmulator *e, const char *id)
{
    if (id == NULL)
        return NULL;
    for (guint i = 0; i < e->classes->len; i++) {
        QtTopologyClass *c = e->classes->pdata[i];
        if (g_strcmp0(c->id, id) == 0)
            return c;
    }
    return NULL;
}

QtDeviceType *qt_emulator_find_device(const QtEmulator *e, const char *name)
{
    if (name == NULL)
        return NULL;
    return g_hash_table_lookup(e->devices, name);
}

static gint device_cmp(gconstpointer a, gconstpointer b)
{
    const QtDeviceType *da = *(const QtDeviceType *const *)a;
    const QtDeviceType *db = *(const QtDeviceType *const *)b;

    return g_strcmp0(da->name, db->name);
}

GPtrArray *qt_emulator_sorted_devices(const QtEmulator *e)
{
    GPtrArray *out = g_ptr_array_sized_new(g_hash_table_size(e->devices));
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, e->devices);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        g_ptr_array_add(out, value);
    g_ptr_array_sort(out, device_cmp);
    return out;
}

void qt_emulator_apply_instance_args(const QtEmulator *e, struct _QtQemuInstance *inst)
{
    for (guint i = 0; e->instance_args != NULL && i < e->instance_args->len; i++)
        qt_qemu_instance_add_arg((QtQemuInstance *)inst, e->instance_args->pdata[i]);
}

static gint by_name(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *qt_emulator_find_installed(const char *dir)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *x86 = dir ? NULL : g_find_program_in_path("qemu-system-x86_64");
    g_autofree char *where = dir ? g_strdup(dir) : x86 ? g_path_get_dirname(x86) : NULL;
    g_autoptr(GDir) d = where ? g_dir_open(where, 0, NULL) : NULL;
    const char *name;

    while (d && (name = g_dir_read_name(d)) != NULL) {
        g_autofree char *path = NULL;
        if (!g_str_has_prefix(name, "qemu-system-"))
            continue;
        path = g_build_filename(where, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_SYMLINK) ||
            !g_file_test(path, G_FILE_TEST_IS_EXECUTABLE))
            continue;
        g_ptr_array_add(out, g_steal_pointer(&path));
    }
    g_ptr_array_sort(out, by_name);
    return out;
}
