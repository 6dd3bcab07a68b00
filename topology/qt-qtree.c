#include "qt-qtree.h"

#include <string.h>

#include "qt-probe-error.h"

static void dev_free(QtQtreeDev *dev)
{
    g_free(dev->type);
    g_free(dev->id);
    g_hash_table_unref(dev->props);
    g_ptr_array_unref(dev->buses);
    g_free(dev);
}

void qt_qtree_bus_free(QtQtreeBus *bus)
{
    if (bus == NULL)
        return;
    g_free(bus->name);
    g_free(bus->type);
    g_ptr_array_unref(bus->devices);
    g_free(bus);
}

static QtQtreeBus *bus_new(const char *name, QtQtreeDev *parent)
{
    QtQtreeBus *bus = g_new0(QtQtreeBus, 1);

    bus->name = g_strdup(name);
    bus->devices = g_ptr_array_new_with_free_func((GDestroyNotify)dev_free);
    bus->parent = parent;
    if (parent)
        g_ptr_array_add(parent->buses, bus);
    return bus;
}

/* "dev: TYPE, id "ID"" */
static QtQtreeDev *dev_new(const char *rest, QtQtreeBus *parent, GError **error)
{
    const char *comma = strstr(rest, ", id \"");
    QtQtreeDev *dev;
    gsize idlen;

    if (comma == NULL || comma == rest) {
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_PARSE, "qtree: bad device line 'dev: %s'",
                    rest);
        return NULL;
    }
    idlen = strlen(comma + 6);
    if (idlen == 0 || comma[6 + idlen - 1] != '"') {
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_PARSE,
                    "qtree: bad device id in 'dev: %s'", rest);
        return NULL;
    }
    dev = g_new0(QtQtreeDev, 1);
    dev->type = g_strndup(rest, (gsize)(comma - rest));
    dev->id = g_strndup(comma + 6, idlen - 1);
    dev->props = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    dev->buses = g_ptr_array_new_with_free_func((GDestroyNotify)qt_qtree_bus_free);
    dev->parent = parent;
    g_ptr_array_add(parent->devices, dev);
    return dev;
}

typedef struct {
    int indent;
    QtQtreeBus *bus; /* exactly one of bus and dev is set */
    QtQtreeDev *dev;
} Level;

static GError *parse_error(guint lineno, const char *line, const char *why)
{
    return g_error_new(QT_PROBE_ERROR, QT_PROBE_ERROR_PARSE, "qtree line %u: %s: '%s'", lineno, why,
                       line);
}

static void find_untyped_cb(QtQtreeBus *bus, gpointer user_data)
{
    QtQtreeBus **untyped = user_data;

    if (*untyped == NULL && bus->type == NULL)
        *untyped = bus;
}

QtQtreeBus *qt_qtree_parse(const char *text, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(QtQtreeBus) root = NULL;
    g_autoptr(GArray) stack = g_array_new(FALSE, FALSE, sizeof(Level));
    guint lineno = 0;

    for (char **l = lines; *l; l++) {
        char *line = *l;
        const char *body;
        int indent = 0;
        Level *top;

        lineno++;
        g_strchomp(line);
        if (*line == '\0')
            continue;
        while (line[indent] == ' ')
            indent++;
        body = line + indent;

        /* pop to the level that owns this line */
        while (stack->len > 0 && g_array_index(stack, Level, stack->len - 1).indent >= indent)
            g_array_set_size(stack, stack->len - 1);

        if (g_str_has_prefix(body, "bus: ")) {
            Level lv = {.indent = indent};
            if (stack->len == 0) {
                if (root != NULL) {
                    g_propagate_error(error, parse_error(lineno, line, "a second root bus"));
                    return NULL;
                }
                root = bus_new(body + 5, NULL);
                lv.bus = root;
            } else {
                top = &g_array_index(stack, Level, stack->len - 1);
                if (top->dev == NULL) {
                    g_propagate_error(error, parse_error(lineno, line, "a bus inside a bus"));
                    return NULL;
                }
                lv.bus = bus_new(body + 5, top->dev);
            }
            g_array_append_val(stack, lv);
            continue;
        }
        if (stack->len == 0) {
            g_propagate_error(error, parse_error(lineno, line, "text before the first bus"));
            return NULL;
        }
        top = &g_array_index(stack, Level, stack->len - 1);
        if (g_str_has_prefix(body, "dev: ")) {
            Level lv = {.indent = indent};
            if (top->bus == NULL) {
                g_propagate_error(error, parse_error(lineno, line, "a device inside a device"));
                return NULL;
            }
            lv.dev = dev_new(body + 5, top->bus, error);
            if (lv.dev == NULL)
                return NULL;
            g_array_append_val(stack, lv);
            continue;
        }
        if (top->bus != NULL) {
            if (g_str_has_prefix(body, "type ") && top->bus->type == NULL) {
                top->bus->type = g_strdup(body + 5);
                continue;
            }
            g_propagate_error(error, parse_error(lineno, line, "unexpected line in a bus"));
            return NULL;
        }
        /* a device's line: "name = value" is a property; the rest (gpio,
         * mmio, class, bar lines) carries nothing the model needs */
        {
            const char *eq = strstr(body, " = ");
            if (eq != NULL && eq > body && memchr(body, ' ', (gsize)(eq - body)) == NULL) {
                const char *val = eq + 3;
                gsize vlen = strcspn(val, " ");
                g_hash_table_replace(top->dev->props, g_strndup(body, (gsize)(eq - body)),
                                     g_strndup(val, vlen));
            }
        }
    }
    if (root == NULL) {
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_PARSE, "qtree: no bus found");
        return NULL;
    }
    /* QEMU prints a type under every bus; without it (a truncated text)
     * readers would have to guess what the bus is */
    {
        QtQtreeBus *untyped = NULL;

        qt_qtree_foreach_bus(root, find_untyped_cb, &untyped);
        if (untyped != NULL) {
            g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_PARSE, "qtree: bus '%s' has no type",
                        untyped->name);
            return NULL;
        }
    }
    return g_steal_pointer(&root);
}

const char *qt_qtree_dev_get(const QtQtreeDev *dev, const char *prop)
{
    return g_hash_table_lookup(dev->props, prop);
}

/* one or two hex digits from @s to @end: QEMU prints "%02x.%x".  Not
 * g_ascii_strtoull, which takes an empty field as 0 and allows a sign,
 * spaces and "0x" */
static gboolean hex_field(const char *s, const char *end, int *out)
{
    int value = 0;

    if (end - s < 1 || end - s > 2)
        return FALSE;
    for (; s < end; s++) {
        if (!g_ascii_isxdigit(*s))
            return FALSE;
        value = value * 16 + g_ascii_xdigit_value(*s);
    }
    *out = value;
    return TRUE;
}

gboolean qt_qtree_dev_get_addr(const QtQtreeDev *dev, int *slot, int *function)
{
    const char *addr = qt_qtree_dev_get(dev, "addr");
    const char *dot;
    int s, f;

    if (addr == NULL)
        return FALSE;
    dot = strchr(addr, '.');
    if (dot == NULL || !hex_field(addr, dot, &s) ||
        !hex_field(dot + 1, dot + 1 + strlen(dot + 1), &f))
        return FALSE;
    if (s > 31 || f > 7)
        return FALSE;
    *slot = s;
    *function = f;
    return TRUE;
}

void qt_qtree_foreach_bus(QtQtreeBus *root, QtQtreeBusFunc func, gpointer user_data)
{
    func(root, user_data);
    for (guint i = 0; i < root->devices->len; i++) {
        QtQtreeDev *dev = root->devices->pdata[i];
        for (guint j = 0; j < dev->buses->len; j++)
            qt_qtree_foreach_bus(dev->buses->pdata[j], func, user_data);
    }
}

typedef struct {
    const char *name;
    QtQtreeBus *found;
} FindBus;

static void find_bus_cb(QtQtreeBus *bus, gpointer user_data)
{
    FindBus *fb = user_data;

    if (fb->found == NULL && g_strcmp0(bus->name, fb->name) == 0)
        fb->found = bus;
}

QtQtreeBus *qt_qtree_find_bus(QtQtreeBus *root, const char *name)
{
    FindBus fb = {name, NULL};

    qt_qtree_foreach_bus(root, find_bus_cb, &fb);
    return fb.found;
}

typedef struct {
    const char *id;
    const char *type;
    QtQtreeDev *dev;
} FindDev;

static void find_dev(QtQtreeBus *bus, gpointer user_data)
{
    FindDev *f = user_data;

    for (guint i = 0; f->dev == NULL && i < bus->devices->len; i++) {
        QtQtreeDev *d = bus->devices->pdata[i];
        if (g_strcmp0(d->id, f->id) == 0 && (f->type == NULL || g_strcmp0(d->type, f->type) == 0))
            f->dev = d;
    }
}

QtQtreeDev *qt_qtree_find_dev(QtQtreeBus *root, const char *id, const char *type)
{
    FindDev f = {id, type, NULL};

    qt_qtree_foreach_bus(root, find_dev, &f);
    return f.dev;
}
