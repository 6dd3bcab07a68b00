/* integration: qtopo's domain XML mode against libvirt 9.0 itself.  Each
 * domain of the corpus (tests/libvirt/domains/NAME.xml, extra qtopoctl
 * arguments in NAME.args, one a line) goes through
 *
 *   qtopoctl --direct --cache-dir DIR place --domain-xml FILE [ARGS]
 *
 * and its output must be taken by libvirt as it is:
 *   1. virt-xml-validate accepts it (and the input's own PCI addresses
 *      are still in it);
 *   2. virDomainDefineXML accepts it;
 *   3. the persistent XML libvirt made of it keeps every PCI address,
 *      adds no PCI controller but the implicit root and gives no other
 *      element a PCI address: libvirt placed nothing itself;
 *   4. started paused, QEMU's qtree has every device (by the alias libvirt
 *      gave it, its QEMU id) on the bus of the controller its address
 *      names, at the slot and function it names.
 *
 * libvirt runs in this process: the embedded QEMU driver
 * (qemu:///embed?root=DIR) on a fresh root per run, one connection for the
 * whole run since it probes each QEMU binary the first time it meets it.
 * Elements of the output and of libvirt's XML are matched by identity
 * where libvirt defines one and sorts by it (controllers by type and
 * index, disks by target), else by position among the elements of the
 * same name, an order libvirt keeps (it only appends implicit ones, such
 * as ps2 inputs).
 *
 * Environment:
 *   QT_LIBVIRT_TEST_NO_QTOPO=1  skip qtopoctl: the prepared input is the
 *                               output (hand-completed domains)
 *   QT_LIBVIRT_TEST_ONLY=G[,G]  only the domains whose name matches a glob
 *   QT_LIBVIRT_TEST_KEEP=1      keep the temporary directory (inputs,
 *                               outputs, libvirt's logs)
 *
 * Exit 0 when every domain passed, 1 when any check failed, 77 (skip) when
 * libvirt cannot be used here or a domain's QEMU is not in PATH. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#define EXIT_SKIP 77
/* qtopoctl's first run on a binary probes it: seconds on 7.2, and the
 * whole test has 600 s */
#define QTOPOCTL_TIMEOUT_S 300
#define TOOL_TIMEOUT_S     60
/* a sparse image per disk: a paused QEMU opens it and reads nothing */
#define DISK_SIZE (1024 * 1024)

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)

typedef struct {
    const char *qtopoctl;
    const char *corpus;
    const char *tmp;
    const char *cache_dir;
    gboolean no_qtopo;
    virConnectPtr conn;
    GHashTable *probed; /* emulators libvirt has probed in this run */
    guint passed, failed, skipped;
} Harness;

/* one corpus domain being checked */
typedef struct {
    Harness *h;
    const char *name;
    guint failures;
} Case;

/* a domain that fails wholesale (an unaddressed one without qtopo) would
 * print a line per device: the first ones tell the story */
#define MAX_FAIL_LINES 25

static void case_fail(Case *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void case_fail(Case *c, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    c->failures++;
    if (c->failures <= MAX_FAIL_LINES)
        printf("FAIL %s: %s\n", c->name, msg);
    else if (c->failures == MAX_FAIL_LINES + 1)
        printf("FAIL %s: (further failures counted, not shown)\n", c->name);
}

static const char *lv_error(void)
{
    return virGetLastErrorMessage();
}

/* libvirt prints every error it raises by default: the harness reports
 * them itself, with the domain they belong to */
static void quiet_errors(void *data, virErrorPtr err)
{
}

/* ---- commands ---- */

typedef struct {
    GBytes *out, *err;
    GError *error;
    gboolean done, timed_out;
    GSubprocess *proc;
} RunData;

static void on_communicated(GObject *src, GAsyncResult *res, gpointer user)
{
    RunData *rd = user;

    g_subprocess_communicate_finish(G_SUBPROCESS(src), res, &rd->out, &rd->err, &rd->error);
    rd->done = TRUE;
}

static gboolean on_timeout(gpointer user)
{
    RunData *rd = user;

    rd->timed_out = TRUE;
    g_subprocess_force_exit(rd->proc);
    return G_SOURCE_REMOVE;
}

static char *bytes_str(GBytes *b)
{
    gsize n = 0;
    const char *d = b ? g_bytes_get_data(b, &n) : NULL;

    return g_strndup(d ? d : "", n);
}

/* the signals the cleanup thread waits for, blocked in every thread; a
 * child must not inherit that (qtopoctl's QEMUs would ignore SIGTERM) */
static sigset_t stop_signals;

static void unblock_signals(gpointer data)
{
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
}

/* run @argv to its end or @timeout_s; FALSE with *why set when it could
 * not run, timed out or exited non-zero (stderr in *why) */
static gboolean run_command(const char *const *argv, guint timeout_s, char **out, char **why)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autoptr(GSubprocess) proc = NULL;
    g_autofree char *err = NULL;
    RunData rd = {0};
    GSource *timer;
    int status;

    launcher =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_set_child_setup(launcher, unblock_signals, NULL, NULL);
    proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
    if (proc == NULL) {
        *why = g_strdup_printf("cannot run %s: %s", argv[0], error->message);
        return FALSE;
    }
    g_main_context_push_thread_default(ctx);
    rd.proc = proc;
    timer = g_timeout_source_new_seconds(timeout_s);
    g_source_set_callback(timer, on_timeout, &rd, NULL);
    g_source_attach(timer, ctx);
    g_subprocess_communicate_async(proc, NULL, NULL, on_communicated, &rd);
    while (!rd.done)
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(timer);
    g_source_unref(timer);
    g_main_context_pop_thread_default(ctx);

    if (out)
        *out = bytes_str(rd.out);
    err = bytes_str(rd.err);
    g_clear_pointer(&rd.out, g_bytes_unref);
    g_clear_pointer(&rd.err, g_bytes_unref);
    if (rd.error) {
        *why = g_strdup_printf("%s: %s", argv[0], rd.error->message);
        g_error_free(rd.error);
        return FALSE;
    }
    if (rd.timed_out) {
        *why = g_strdup_printf("%s: killed after %u s; stderr: %s", argv[0], timeout_s, err);
        return FALSE;
    }
    status = g_subprocess_get_status(proc);
    if (!g_subprocess_get_if_exited(proc) || g_subprocess_get_exit_status(proc) != 0) {
        *why = g_strdup_printf("%s: %s %d; stderr: %s", argv[0],
                               g_subprocess_get_if_exited(proc) ? "exit status" : "wait status",
                               g_subprocess_get_if_exited(proc) ? g_subprocess_get_exit_status(proc)
                                                                : status,
                               g_strstrip(err));
        return FALSE;
    }
    return TRUE;
}

/* ---- XML ---- */

static xmlDoc *parse_xml(const char *text, char **why)
{
    xmlDoc *doc = xmlReadMemory(text, (int)strlen(text), "domain.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);

    if (doc == NULL) {
        const xmlError *e = xmlGetLastError();
        *why = g_strdup_printf("not well-formed XML: %s", e && e->message ? e->message : "?");
    }
    return doc;
}

/* the nodes @expr selects, in document order (an empty array if none) */
static GPtrArray *xpath_nodes(xmlDoc *doc, xmlNode *ctx_node, const char *expr)
{
    g_autoptr(xmlXPathContext) ctx = xmlXPathNewContext(doc);
    g_autoptr(xmlXPathObject) obj = NULL;
    GPtrArray *nodes = g_ptr_array_new();

    if (ctx_node)
        ctx->node = ctx_node;
    obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    if (obj && obj->nodesetval) {
        for (int i = 0; i < obj->nodesetval->nodeNr; i++)
            g_ptr_array_add(nodes, obj->nodesetval->nodeTab[i]);
    }
    return nodes;
}

static xmlNode *xpath_node(xmlDoc *doc, xmlNode *ctx_node, const char *expr)
{
    g_autoptr(GPtrArray) nodes = xpath_nodes(doc, ctx_node, expr);

    return nodes->len ? nodes->pdata[0] : NULL;
}

/* the string value of @expr (an attribute or element text), NULL if empty */
static char *xpath_str(xmlDoc *doc, xmlNode *ctx_node, const char *expr)
{
    g_autoptr(xmlXPathContext) ctx = xmlXPathNewContext(doc);
    g_autoptr(xmlXPathObject) obj = NULL;
    g_autofree char *expr_s = g_strdup_printf("string(%s)", expr);

    if (ctx_node)
        ctx->node = ctx_node;
    obj = xmlXPathEvalExpression((const xmlChar *)expr_s, ctx);
    if (obj == NULL || obj->type != XPATH_STRING || obj->stringval == NULL ||
        obj->stringval[0] == '\0')
        return NULL;
    return g_strdup((const char *)obj->stringval);
}

static char *prop(xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    char *s = v ? g_strdup((const char *)v) : NULL;

    xmlFree(v);
    return s;
}

/* ---- PCI addresses of a domain document ---- */

typedef struct {
    guint domain, bus, slot, function;
    char *multifunction; /* "on", "off" or NULL (unset) */
} PciAddr;

/* one element of <devices> that has an <address type='pci'> */
typedef struct {
    char *key;  /* its identity, see element_key() */
    char *what; /* for messages: the key and the model */
    PciAddr addr;
    gboolean is_pci_ctrl;
    char *index; /* of a PCI controller, as norm_index() writes it */
} Placed;

static void placed_free(gpointer p)
{
    Placed *pl = p;

    g_free(pl->key);
    g_free(pl->what);
    g_free(pl->addr.multifunction);
    g_free(pl->index);
    g_free(pl);
}

static gboolean parse_num(const char *s, guint *v)
{
    char *end = NULL;
    guint64 n;

    if (s == NULL) {
        *v = 0; /* libvirt's default for an attribute left out */
        return TRUE;
    }
    errno = 0;
    n = g_ascii_strtoull(s, &end, 0);
    if (errno || end == s || *end != '\0' || n > G_MAXUINT)
        return FALSE;
    *v = (guint)n;
    return TRUE;
}

static gboolean parse_pci_address(xmlNode *a, PciAddr *addr)
{
    g_autofree char *d = prop(a, "domain"), *b = prop(a, "bus"), *s = prop(a, "slot"),
                    *f = prop(a, "function");

    addr->multifunction = prop(a, "multifunction");
    return parse_num(d, &addr->domain) && parse_num(b, &addr->bus) && parse_num(s, &addr->slot) &&
           parse_num(f, &addr->function);
}

static char *addr_str(const PciAddr *a)
{
    return g_strdup_printf("%04x:%02x:%02x.%x%s%s", a->domain, a->bus, a->slot, a->function,
                           a->multifunction ? " multifunction=" : "",
                           a->multifunction ? a->multifunction : "");
}

static gboolean addr_equal(const PciAddr *a, const PciAddr *b)
{
    return a->domain == b->domain && a->bus == b->bus && a->slot == b->slot &&
           a->function == b->function && g_strcmp0(a->multifunction, b->multifunction) == 0;
}

/* a controller index as libvirt reads it (decimal), so that "01" is 1 */
static const char *norm_index(const char *index)
{
    static char buf[32];
    guint64 n;

    if (index == NULL || !g_ascii_string_to_unsigned(index, 10, 0, G_MAXUINT, &n, NULL))
        return index ? index : "?";
    g_snprintf(buf, sizeof(buf), "%" G_GUINT64_FORMAT, n);
    return buf;
}

/* an element's identity across documents: libvirt sorts controllers by
 * type and index and disks by bus and target, so those are matched by
 * them; every other list it keeps in document order, only appending what
 * it adds, so the rest match by position among same-named elements */
static char *element_key(xmlNode *n, GHashTable *positions)
{
    const char *name = (const char *)n->name;

    if (g_str_equal(name, "controller")) {
        g_autofree char *type = prop(n, "type"), *index = prop(n, "index");
        guint *pos;
        /* no index: libvirt gives the lowest free one of the type, in
         * document order */
        if (index == NULL) {
            g_autofree char *pkey = g_strdup_printf("controller/%s", type);
            pos = g_hash_table_lookup(positions, pkey);
            if (pos == NULL) {
                pos = g_new0(guint, 1);
                g_hash_table_insert(positions, g_steal_pointer(&pkey), pos);
            }
            return g_strdup_printf("controller type=%s index=%u", type, (*pos)++);
        }
        return g_strdup_printf("controller type=%s index=%s", type, norm_index(index));
    }
    if (g_str_equal(name, "disk")) {
        g_autofree char *dev = NULL;
        for (xmlNode *c = n->children; c; c = c->next) {
            if (c->type == XML_ELEMENT_NODE && g_str_equal((const char *)c->name, "target"))
                dev = prop(c, "dev");
        }
        return g_strdup_printf("disk %s", dev ? dev : "?");
    }
    guint *pos = g_hash_table_lookup(positions, name);
    if (pos == NULL) {
        pos = g_new0(guint, 1);
        g_hash_table_insert(positions, g_strdup(name), pos);
    }
    return g_strdup_printf("%s #%u", name, (*pos)++);
}

/* a short model description for messages */
static char *element_model(xmlDoc *doc, xmlNode *n)
{
    char *m = xpath_str(doc, n, "model/@type");

    if (m == NULL)
        m = prop(n, "model");
    if (m == NULL)
        m = xpath_str(doc, n, "target/@bus");
    return m;
}

typedef struct {
    GPtrArray *placed;     /* Placed*, document order */
    GHashTable *by_key;    /* key -> Placed* */
    GHashTable *aliases;   /* key -> alias name, every element that has one */
    GHashTable *pci_ctrls; /* index (string) -> model, <controller type='pci'> */
    guint devices, controllers;
} DomPci;

static void dom_pci_free(DomPci *d)
{
    g_ptr_array_unref(d->placed);
    g_hash_table_unref(d->by_key);
    g_hash_table_unref(d->aliases);
    g_hash_table_unref(d->pci_ctrls);
    g_free(d);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomPci, dom_pci_free)

static DomPci *dom_pci_read(xmlDoc *doc, char **why)
{
    g_autoptr(DomPci) d = g_new0(DomPci, 1);
    g_autoptr(GHashTable) positions =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GPtrArray) devs = xpath_nodes(doc, NULL, "/domain/devices/*");

    d->placed = g_ptr_array_new_with_free_func(placed_free);
    d->by_key = g_hash_table_new(g_str_hash, g_str_equal);
    d->aliases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    d->pci_ctrls = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < devs->len; i++) {
        xmlNode *n = devs->pdata[i];
        g_autofree char *key = element_key(n, positions);
        g_autofree char *type = prop(n, "type");
        g_autofree char *alias = xpath_str(doc, n, "alias/@name");
        xmlNode *a = xpath_node(doc, n, "address[@type='pci']");
        gboolean is_pci_ctrl =
            g_str_equal((const char *)n->name, "controller") && g_strcmp0(type, "pci") == 0;

        g_autofree char *index = NULL;
        if (is_pci_ctrl) {
            g_autofree char *raw = prop(n, "index");
            char *model = prop(n, "model");
            index = g_strdup(norm_index(raw));
            d->controllers++;
            g_hash_table_insert(d->pci_ctrls, g_strdup(index), model ? model : g_strdup("?"));
        }
        if (alias)
            g_hash_table_insert(d->aliases, g_strdup(key), g_steal_pointer(&alias));
        if (a == NULL)
            continue;
        Placed *pl = g_new0(Placed, 1);
        g_autofree char *model = element_model(doc, n);
        pl->key = g_steal_pointer(&key);
        pl->is_pci_ctrl = is_pci_ctrl;
        pl->index = g_steal_pointer(&index);
        pl->what = model ? g_strdup_printf("%s (%s)", pl->key, model) : g_strdup(pl->key);
        if (!parse_pci_address(a, &pl->addr)) {
            *why = g_strdup_printf("%s: unreadable PCI address", pl->what);
            placed_free(pl);
            return NULL;
        }
        if (g_hash_table_contains(d->by_key, pl->key)) {
            *why = g_strdup_printf("two elements are %s", pl->key);
            placed_free(pl);
            return NULL;
        }
        if (!is_pci_ctrl)
            d->devices++;
        g_hash_table_insert(d->by_key, pl->key, pl);
        g_ptr_array_add(d->placed, pl);
    }
    return g_steal_pointer(&d);
}

/* ---- qtree ---- */

typedef struct {
    char *type, *id, *bus;
    gboolean has_addr;
    guint slot, function;
} QDev;

static void qdev_free(gpointer p)
{
    QDev *q = p;

    g_free(q->type);
    g_free(q->id);
    g_free(q->bus);
    g_free(q);
}

typedef struct {
    GPtrArray *devs;   /* QDev* */
    GHashTable *by_id; /* id -> QDev*, devices with an id */
    GHashTable *buses; /* bus name set (names owned by bus_names) */
    GPtrArray *bus_names;
} QTree;

static void qtree_free(QTree *t)
{
    g_ptr_array_unref(t->devs);
    g_hash_table_unref(t->by_id);
    g_hash_table_unref(t->buses);
    g_ptr_array_unref(t->bus_names);
    g_free(t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QTree, qtree_free)

typedef struct {
    guint indent;
    gboolean is_bus;
    const char *bus; /* for a bus: its name */
    QDev *dev;       /* for a device */
} QLevel;

/* HMP's "info qtree": "bus: NAME" lines hold "dev: TYPE, id "ID"" lines
 * indented below them, whose properties ("addr = 01.5" for a PCI device)
 * and child buses are indented below the device */
static QTree *qtree_parse(const char *text)
{
    g_autoptr(QTree) t = g_new0(QTree, 1);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GArray) stack = g_array_new(FALSE, FALSE, sizeof(QLevel));

    t->devs = g_ptr_array_new_with_free_func(qdev_free);
    t->by_id = g_hash_table_new(g_str_hash, g_str_equal);
    t->buses = g_hash_table_new(g_str_hash, g_str_equal);
    t->bus_names = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; lines[i]; i++) {
        /* HMP ends its lines with "\r\n" */
        const char *l = g_strchomp(lines[i]);
        guint indent = 0;
        while (l[indent] == ' ')
            indent++;
        const char *s = l + indent;
        gboolean is_bus = g_str_has_prefix(s, "bus: ");
        gboolean is_dev = g_str_has_prefix(s, "dev: ");
        gboolean is_addr = g_str_has_prefix(s, "addr = ");

        if (!is_bus && !is_dev && !is_addr)
            continue;
        while (stack->len && g_array_index(stack, QLevel, stack->len - 1).indent >= indent)
            g_array_set_size(stack, stack->len - 1);
        QLevel *top = stack->len ? &g_array_index(stack, QLevel, stack->len - 1) : NULL;
        if (is_bus) {
            /* names repeat (every virtio proxy has a "virtio-bus") */
            char *name = g_strstrip(g_strdup(s + 5));
            g_ptr_array_add(t->bus_names, name);
            g_hash_table_add(t->buses, name);
            QLevel lv = {indent, TRUE, name, NULL};
            g_array_append_val(stack, lv);
        } else if (is_dev) {
            QDev *q = g_new0(QDev, 1);
            const char *comma = strstr(s, ", id \"");
            q->type = comma ? g_strndup(s + 5, comma - (s + 5)) : g_strstrip(g_strdup(s + 5));
            if (comma) {
                const char *idb = comma + 6;
                const char *ide = strchr(idb, '"');
                q->id = g_strndup(idb, ide ? (gsize)(ide - idb) : strlen(idb));
            }
            q->bus = g_strdup(top && top->is_bus ? top->bus : "");
            g_ptr_array_add(t->devs, q);
            if (q->id && q->id[0])
                g_hash_table_insert(t->by_id, q->id, q);
            QLevel lv = {indent, FALSE, NULL, q};
            g_array_append_val(stack, lv);
        } else if (top && !top->is_bus && !top->dev->has_addr) {
            guint slot, fn;
            int end = 0;
            /* PCI devices print devfn as SS.F; other devices' "addr"
             * properties look different and are left alone */
            if (sscanf(s + 7, "%2x.%1x%n", &slot, &fn, &end) == 2 && s[7 + end] == '\0') {
                top->dev->has_addr = TRUE;
                top->dev->slot = slot;
                top->dev->function = fn;
            }
        }
    }
    return g_steal_pointer(&t);
}

/* ---- one domain ---- */

static char *find_emulator(const char *path)
{
    g_autofree char *base = g_path_get_basename(path);

    return g_find_program_in_path(base);
}

static gboolean make_disk(const char *path, char **why)
{
    int fd = g_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0 || ftruncate(fd, DISK_SIZE) < 0) {
        *why = g_strdup_printf("cannot create %s: %s", path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return FALSE;
    }
    close(fd);
    return TRUE;
}

/* the corpus file made runnable here: <emulator> is the QEMU of that
 * name found first in PATH, each file-backed disk a sparse image of its
 * own (QEMU locks images, so disks cannot share one); returns the path of
 * the prepared input, or NULL with *skip or *why set */
static char *prepare_input(Case *c, const char *src, char **emulator, gboolean *skip, char **why)
{
    Harness *h = c->h;
    g_autoptr(xmlDoc) doc = xmlReadFile(src, NULL, XML_PARSE_NONET);
    g_autoptr(GPtrArray) sources = NULL;
    g_autofree char *out = NULL;
    xmlNode *emu;

    if (doc == NULL) {
        *why = g_strdup_printf("%s is not well-formed XML", src);
        return NULL;
    }
    emu = xpath_node(doc, NULL, "/domain/devices/emulator");
    if (emu) {
        xmlChar *text = xmlNodeGetContent(emu);
        g_autofree char *found = find_emulator((const char *)text);
        if (found == NULL) {
            *why = g_strdup_printf("no %s in PATH", (const char *)text);
            *skip = TRUE;
            xmlFree(text);
            return NULL;
        }
        xmlFree(text);
        xmlNodeSetContent(emu, (const xmlChar *)found);
        *emulator = g_steal_pointer(&found);
    }
    sources = xpath_nodes(doc, NULL, "/domain/devices/disk[@type='file']/source[@file]");
    for (guint i = 0; i < sources->len; i++) {
        xmlNode *s = sources->pdata[i];
        g_autofree char *dev = xpath_str(doc, s, "../target/@dev");
        g_autofree char *file = g_strdup_printf("%s-%s.img", c->name, dev ? dev : "disk");
        g_autofree char *path = g_build_filename(h->tmp, "disks", file, NULL);
        if (!make_disk(path, why))
            return NULL;
        xmlSetProp(s, (const xmlChar *)"file", (const xmlChar *)path);
    }
    out = g_strdup_printf("%s/in/%s.xml", h->tmp, c->name);
    if (xmlSaveFile(out, doc) < 0) {
        *why = g_strdup_printf("cannot write %s", out);
        return NULL;
    }
    return g_steal_pointer(&out);
}

/* libvirt probes a QEMU binary the first time a domain names it (about
 * 4 s for 7.2's x86_64: two QEMU processes, KVM and TCG); done apart so
 * that the define+start time is libvirt's work on the domain alone */
static void probe_emulator(Case *c, xmlDoc *in_doc, const char *emulator)
{
    Harness *h = c->h;
    gint64 t0 = g_get_monotonic_time();
    g_autofree char *arch = xpath_str(in_doc, NULL, "/domain/os/type/@arch");
    g_autofree char *machine = xpath_str(in_doc, NULL, "/domain/os/type/@machine");
    g_autofree char *virttype = xpath_str(in_doc, NULL, "/domain/@type");
    char *caps;

    if (emulator == NULL || g_hash_table_contains(h->probed, emulator))
        return;
    g_hash_table_add(h->probed, g_strdup(emulator));
    caps = virConnectGetDomainCapabilities(h->conn, emulator, arch, machine, virttype, 0);
    if (caps == NULL) {
        case_fail(c, "libvirt cannot probe %s: %s", emulator, lv_error());
        return;
    }
    free(caps);
    printf("# libvirt probed %s in %" G_GINT64_FORMAT " ms\n", emulator,
           (g_get_monotonic_time() - t0) / 1000);
}

/* NAME.args: one argument a line; blank lines and '#' lines ignored */
static gboolean read_args(const char *path, GPtrArray *argv, char **why)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return TRUE;
    if (!g_file_get_contents(path, &text, NULL, &error)) {
        *why = g_strdup(error->message);
        return FALSE;
    }
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        char *l = g_strstrip(lines[i]);
        if (l[0] != '\0' && l[0] != '#')
            g_ptr_array_add(argv, g_strdup(l));
    }
    return TRUE;
}

/* the domain's output document: qtopoctl's stdout, or the prepared input
 * itself with QT_LIBVIRT_TEST_NO_QTOPO */
static char *produce_output(Case *c, const char *input, char **why)
{
    Harness *h = c->h;
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *args_path = g_strdup_printf("%s/%s.args", h->corpus, c->name);
    g_autofree char *out = NULL;
    g_autoptr(GError) error = NULL;

    if (h->no_qtopo) {
        if (!g_file_get_contents(input, &out, NULL, &error)) {
            *why = g_strdup(error->message);
            return NULL;
        }
        return g_steal_pointer(&out);
    }
    g_ptr_array_add(argv, g_strdup(h->qtopoctl));
    g_ptr_array_add(argv, g_strdup("--direct"));
    g_ptr_array_add(argv, g_strdup("--cache-dir"));
    g_ptr_array_add(argv, g_strdup(h->cache_dir));
    g_ptr_array_add(argv, g_strdup("place"));
    g_ptr_array_add(argv, g_strdup("--domain-xml"));
    g_ptr_array_add(argv, g_strdup(input));
    if (!read_args(args_path, argv, why))
        return NULL;
    g_ptr_array_add(argv, NULL);
    if (!run_command((const char *const *)argv->pdata, QTOPOCTL_TIMEOUT_S, &out, why))
        return NULL;
    return g_steal_pointer(&out);
}

/* check 1: the output is a valid domain document and keeps the input's
 * own PCI addresses */
static void check_output(Case *c, const char *out_path, xmlDoc *in_doc, DomPci *out_pci)
{
    const char *argv[] = {"virt-xml-validate", out_path, "domain", NULL};
    g_autofree char *invalid = NULL, *why = NULL;
    g_autoptr(DomPci) in_pci = dom_pci_read(in_doc, &why);

    if (!run_command(argv, TOOL_TIMEOUT_S, NULL, &invalid))
        case_fail(c, "the output does not validate: %s", invalid);
    if (in_pci == NULL) {
        case_fail(c, "input: %s", why);
        return;
    }
    for (guint i = 0; i < in_pci->placed->len; i++) {
        Placed *in = in_pci->placed->pdata[i];
        Placed *o = g_hash_table_lookup(out_pci->by_key, in->key);
        g_autofree char *ia = addr_str(&in->addr);
        if (o == NULL) {
            case_fail(c, "%s: the input placed it at %s, the output has no PCI address for it",
                      in->what, ia);
        } else if (!addr_equal(&in->addr, &o->addr)) {
            g_autofree char *oa = addr_str(&o->addr);
            case_fail(c, "%s: the input placed it at %s, the output moved it to %s", in->what, ia,
                      oa);
        }
    }
}

static int compare_indexes(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    guint64 nx = g_ascii_strtoull(x, NULL, 10), ny = g_ascii_strtoull(y, NULL, 10);

    return nx < ny ? -1 : nx > ny ? 1 : strcmp(x, y);
}

/* check 3: libvirt's persistent XML places exactly what the output did */
static void check_defined(Case *c, DomPci *out_pci, DomPci *lv_pci)
{
    g_autofree gpointer *indexes = NULL;
    guint n_indexes = 0;

    for (guint i = 0; i < out_pci->placed->len; i++) {
        Placed *o = out_pci->placed->pdata[i];
        Placed *l = g_hash_table_lookup(lv_pci->by_key, o->key);
        g_autofree char *oa = addr_str(&o->addr);
        if (l == NULL) {
            case_fail(c, "%s: at %s in the output, without a PCI address in libvirt's XML", o->what,
                      oa);
        } else if (!addr_equal(&o->addr, &l->addr)) {
            g_autofree char *la = addr_str(&l->addr);
            case_fail(c, "%s: at %s in the output, libvirt made it %s", o->what, oa, la);
        }
    }
    for (guint i = 0; i < lv_pci->placed->len; i++) {
        Placed *l = lv_pci->placed->pdata[i];
        /* a PCI controller libvirt added is told below, once */
        if (l->is_pci_ctrl && !g_hash_table_contains(out_pci->pci_ctrls, l->index))
            continue;
        if (!g_hash_table_contains(out_pci->by_key, l->key)) {
            g_autofree char *la = addr_str(&l->addr);
            case_fail(c, "%s: libvirt placed it at %s, the output did not", l->what, la);
        }
    }
    indexes = g_hash_table_get_keys_as_array(lv_pci->pci_ctrls, &n_indexes);
    qsort(indexes, n_indexes, sizeof(gpointer), compare_indexes);
    for (guint i = 0; i < n_indexes; i++) {
        const char *k = indexes[i];
        const char *v = g_hash_table_lookup(lv_pci->pci_ctrls, k);
        const char *out_model = g_hash_table_lookup(out_pci->pci_ctrls, k);
        gboolean implicit_root =
            g_str_equal(k, "0") && (g_str_equal(v, "pci-root") || g_str_equal(v, "pcie-root"));
        if (out_model == NULL && !implicit_root)
            case_fail(c, "libvirt added <controller type='pci' index='%s' model='%s'>", k, v);
        else if (out_model && !g_str_equal(out_model, v))
            case_fail(c, "controller pci %s: model %s in the output, %s in libvirt's XML", k,
                      out_model, v);
    }
}

/* the QEMU bus of controller @index: the root bus for 0 (its name from
 * the qtree: pcie.0, pci.0 or pci), else the bus named after the
 * controller's QEMU id, or "ID.0" (a pseries host bridge's bus) */
static const char *expected_bus(DomPci *live, QTree *qt, guint index, char **buf)
{
    static const char *const roots[] = {"pcie.0", "pci.0", "pci"};
    g_autofree char *key = g_strdup_printf("controller type=pci index=%u", index);
    const char *alias = g_hash_table_lookup(live->aliases, key);

    if (index == 0) {
        if (alias && g_hash_table_contains(qt->buses, alias))
            return alias;
        for (guint i = 0; i < G_N_ELEMENTS(roots); i++) {
            if (g_hash_table_contains(qt->buses, roots[i]))
                return roots[i];
        }
        return NULL;
    }
    if (alias == NULL)
        return NULL;
    if (g_hash_table_contains(qt->buses, alias))
        return alias;
    *buf = g_strdup_printf("%s.0", alias);
    if (g_hash_table_contains(qt->buses, *buf))
        return *buf;
    return NULL;
}

/* check 4: every placed element sits in QEMU where its address says */
static void check_qtree(Case *c, DomPci *out_pci, DomPci *live, QTree *qt)
{
    for (guint i = 0; i < out_pci->placed->len; i++) {
        Placed *o = out_pci->placed->pdata[i];
        const char *alias = g_hash_table_lookup(live->aliases, o->key);
        g_autofree char *buf = NULL;
        g_autofree char *oa = addr_str(&o->addr);
        const char *bus = expected_bus(live, qt, o->addr.bus, &buf);
        QDev *q = alias ? g_hash_table_lookup(qt->by_id, alias) : NULL;

        if (bus == NULL) {
            case_fail(c, "%s at %s: QEMU has no bus for controller index %u", o->what, oa,
                      o->addr.bus);
            continue;
        }
        if (q == NULL) {
            /* built into the machine (q35's SATA, i440fx's IDE): libvirt
             * gives it an alias but QEMU no id; it must be at the place */
            for (guint j = 0; j < qt->devs->len && q == NULL; j++) {
                QDev *d = qt->devs->pdata[j];
                if ((d->id == NULL || d->id[0] == '\0') && d->has_addr &&
                    g_str_equal(d->bus, bus) && d->slot == o->addr.slot &&
                    d->function == o->addr.function)
                    q = d;
            }
            if (q == NULL) {
                case_fail(c, "%s at %s: no QEMU device with id \"%s\" nor a built-in one there",
                          o->what, oa, alias ? alias : "(no alias)");
                continue;
            }
        }
        if (!q->has_addr) {
            case_fail(c, "%s: QEMU device \"%s\" (%s) has no PCI address", o->what, q->id, q->type);
        } else if (!g_str_equal(q->bus, bus) || q->slot != o->addr.slot ||
                   q->function != o->addr.function) {
            case_fail(c, "%s at %s: QEMU has %s \"%s\" on %s addr %02x.%x, not on %s addr %02x.%x",
                      o->what, oa, q->type, q->id ? q->id : "", q->bus, q->slot, q->function, bus,
                      o->addr.slot, o->addr.function);
        }
    }
}

/* libvirt's XML of the domain, kept as TMP/libvirt/NAME.WHAT.xml for a
 * look with QT_LIBVIRT_TEST_KEEP */
static DomPci *read_libvirt_xml(Case *c, virDomainPtr dom, unsigned int flags, const char *what)
{
    g_autofree char *why = NULL;
    char *xml = virDomainGetXMLDesc(dom, flags);
    g_autofree char *path = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    DomPci *d;

    if (xml == NULL) {
        case_fail(c, "virDomainGetXMLDesc (%s): %s", what, lv_error());
        return NULL;
    }
    path = g_strdup_printf("%s/libvirt/%s.%s.xml", c->h->tmp, c->name, what);
    g_file_set_contents(path, xml, -1, NULL);
    doc = parse_xml(xml, &why);
    free(xml);
    if (doc == NULL) {
        case_fail(c, "libvirt's %s XML: %s", what, why);
        return NULL;
    }
    d = dom_pci_read(doc, &why);
    if (d == NULL)
        case_fail(c, "libvirt's %s XML: %s", what, why);
    return d;
}

/* checks 2 to 4 on a defined domain; the caller destroys and undefines */
static void check_libvirt(Case *c, const char *out_text, DomPci *out_pci, virDomainPtr *domp,
                          gint64 *define_start_us)
{
    gint64 t0 = g_get_monotonic_time(), t_define, t_start;
    g_autoptr(DomPci) lv = NULL;
    g_autoptr(DomPci) live = NULL;
    g_autoptr(QTree) qt = NULL;
    char *qtree = NULL;

    *domp = virDomainDefineXML(c->h->conn, out_text);
    t_define = g_get_monotonic_time() - t0;
    if (*domp == NULL) {
        case_fail(c, "virDomainDefineXML refused it: %s", lv_error());
        return;
    }
    lv = read_libvirt_xml(c, *domp, VIR_DOMAIN_XML_INACTIVE, "persistent");
    if (lv)
        check_defined(c, out_pci, lv);

    t0 = g_get_monotonic_time();
    /* no VIR_DOMAIN_START_AUTODESTROY: the embedded driver refuses it */
    if (virDomainCreateWithFlags(*domp, VIR_DOMAIN_START_PAUSED) < 0) {
        case_fail(c, "start (paused) failed: %s", lv_error());
        return;
    }
    t_start = g_get_monotonic_time() - t0;
    *define_start_us = t_define + t_start;
    live = read_libvirt_xml(c, *domp, 0, "live");
    if (live == NULL)
        return;
    if (virDomainQemuMonitorCommand(*domp, "info qtree", &qtree,
                                    VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) < 0) {
        case_fail(c, "info qtree: %s", lv_error());
        return;
    }
    qt = qtree_parse(qtree);
    free(qtree);
    check_qtree(c, out_pci, live, qt);
}

static void remove_domain(Case *c, virDomainPtr dom)
{
    int active = virDomainIsActive(dom);

    if (active > 0 && virDomainDestroy(dom) < 0)
        case_fail(c, "destroy: %s", lv_error());
    if (virDomainIsPersistent(dom) > 0 &&
        virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                        VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) < 0)
        case_fail(c, "undefine: %s", lv_error());
    virDomainFree(dom);
}

static void run_case(Harness *h, const char *name)
{
    Case c = {h, name, 0};
    g_autofree char *src = g_strdup_printf("%s/%s.xml", h->corpus, name);
    g_autofree char *out_path = g_strdup_printf("%s/out/%s.xml", h->tmp, name);
    g_autofree char *why = NULL;
    g_autofree char *input = NULL, *out_text = NULL, *emulator = NULL;
    g_autoptr(xmlDoc) in_doc = NULL, out_doc = NULL;
    g_autoptr(DomPci) out_pci = NULL;
    g_autoptr(GError) error = NULL;
    virDomainPtr dom = NULL;
    gint64 define_start_us = -1;
    gboolean skip = FALSE;

    input = prepare_input(&c, src, &emulator, &skip, &why);
    if (input == NULL) {
        if (skip) {
            printf("skip %s: %s\n", name, why);
            h->skipped++;
        } else {
            case_fail(&c, "%s", why);
            h->failed++;
        }
        return;
    }
    in_doc = xmlReadFile(input, NULL, XML_PARSE_NONET);
    if (in_doc == NULL) {
        case_fail(&c, "cannot read back %s", input);
        h->failed++;
        return;
    }
    out_text = produce_output(&c, input, &why);
    if (out_text == NULL) {
        case_fail(&c, "no output: %s", why);
        h->failed++;
        return;
    }
    if (!g_file_set_contents(out_path, out_text, -1, &error)) {
        case_fail(&c, "cannot write %s: %s", out_path, error->message);
        h->failed++;
        return;
    }
    out_doc = parse_xml(out_text, &why);
    if (out_doc)
        out_pci = dom_pci_read(out_doc, &why);
    if (out_pci == NULL) {
        case_fail(&c, "output: %s", why);
        h->failed++;
        return;
    }
    check_output(&c, out_path, in_doc, out_pci);
    probe_emulator(&c, in_doc, emulator);
    check_libvirt(&c, out_text, out_pci, &dom, &define_start_us);
    if (dom)
        remove_domain(&c, dom);

    if (c.failures) {
        h->failed++;
        return;
    }
    h->passed++;
    printf("ok %s: %u devices, %u controllers, define+start in %" G_GINT64_FORMAT " ms\n", name,
           out_pci->devices, out_pci->controllers, define_start_us / 1000);
    fflush(stdout);
}

/* ---- the run ---- */

static gboolean selected(const char *name)
{
    const char *only = g_getenv("QT_LIBVIRT_TEST_ONLY");
    g_auto(GStrv) globs = NULL;

    if (only == NULL || only[0] == '\0')
        return TRUE;
    globs = g_strsplit(only, ",", -1);
    for (guint i = 0; globs[i]; i++) {
        if (g_pattern_match_simple(g_strstrip(globs[i]), name))
            return TRUE;
    }
    return FALSE;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    /* g_ptr_array_sort passes pointers to the elements */
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static GPtrArray *list_corpus(const char *dir, GError **error)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, error);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *f;

    if (d == NULL)
        return NULL;
    while ((f = g_dir_read_name(d))) {
        if (g_str_has_suffix(f, ".xml")) {
            g_autofree char *name = g_strndup(f, strlen(f) - 4);
            if (selected(name))
                g_ptr_array_add(names, g_steal_pointer(&name));
        }
    }
    g_ptr_array_sort(names, compare_names);
    return g_steal_pointer(&names);
}

static void remove_tree(const char *path)
{
    g_autoptr(GDir) d = NULL;
    const char *f;

    if (!g_file_test(path, G_FILE_TEST_IS_DIR) || g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
        g_remove(path);
        return;
    }
    d = g_dir_open(path, 0, NULL);
    while (d && (f = g_dir_read_name(d))) {
        g_autofree char *child = g_build_filename(path, f, NULL);
        remove_tree(child);
    }
    g_rmdir(path);
}

/* meson ends a test that overruns its timeout with SIGTERM; libvirt
 * starts QEMU in a session of its own, out of reach of that signal, so a
 * thread waits for it and destroys the VMs before the process goes */
static GMutex cleanup_lock;
static virConnectPtr cleanup_conn; /* under cleanup_lock */
static const char *cleanup_tmp;

static void remove_tree(const char *path);

static gpointer signal_thread(gpointer data)
{
    int sig = 0;
    virDomainPtr *doms = NULL;
    int n;

    if (sigwait(&stop_signals, &sig) != 0)
        return NULL;
    fprintf(stderr, "test-libvirt: %s: destroying the VMs\n", g_strsignal(sig));
    g_mutex_lock(&cleanup_lock);
    n = cleanup_conn ? virConnectListAllDomains(cleanup_conn, &doms, 0) : 0;
    for (int i = 0; i < n; i++) {
        if (virDomainIsActive(doms[i]) > 0)
            virDomainDestroy(doms[i]);
        virDomainFree(doms[i]);
    }
    free(doms);
    if (cleanup_tmp && g_strcmp0(g_getenv("QT_LIBVIRT_TEST_KEEP"), "1") != 0)
        remove_tree(cleanup_tmp);
    _exit(128 + sig);
}

/* the embedded driver talks to QEMU's monitor from libvirt's event loop,
 * which must run while any call waits for QEMU: a thread of its own, as
 * virsh has (libvirt blocks the calling thread in its API calls) */
static volatile gint event_loop_quit;

static gpointer event_loop_thread(gpointer data)
{
    while (!g_atomic_int_get(&event_loop_quit)) {
        if (virEventRunDefaultImpl() < 0)
            break;
    }
    return NULL;
}

static void wake_event_loop(int timer, void *opaque)
{
    virEventRemoveTimeout(timer);
}

/* libvirt's embedded QEMU driver on a private root: @tmp/root holds its
 * configuration, state, logs and capability cache */
static virConnectPtr open_libvirt(const char *tmp, char **why)
{
    g_autofree char *root = g_build_filename(tmp, "root", NULL);
    g_autofree char *etc = g_build_filename(root, "etc", NULL);
    g_autofree char *conf = g_build_filename(etc, "qemu.conf", NULL);
    g_autofree char *uri = g_strdup_printf("qemu:///embed?root=%s", root);
    g_autoptr(GError) error = NULL;
    virConnectPtr conn;
    /* stdio_handler: QEMU's output to a file, else starting a VM needs
     * virtlogd.  user and group: QEMU as root, not libvirt-qemu.  With
     * /dev/kvm present but closed to libvirt-qemu (0600 root, as on this
     * workplace) libvirt 9.0 finds KVM enabled in its probe (run with
     * CAP_DAC_OVERRIDE) yet not usable by the QEMU user, calls its
     * capability cache stale and probes the binary again at every
     * lookup: 85 s for one define instead of 60 ms.  As root the images
     * the test creates need no relabelling either.  remember_owner: no
     * xattrs on them (libvirt's helpers warn on stderr about their
     * timestamps otherwise).  Not root, the driver runs unprivileged:
     * QEMU as the caller, and user and group do not apply. */
    const char *qemu_conf = geteuid() == 0 ? "stdio_handler = \"file\"\n"
                                             "user = \"root\"\n"
                                             "group = \"root\"\n"
                                             "remember_owner = 0\n"
                                           : "stdio_handler = \"file\"\n";

    if (g_mkdir_with_parents(etc, 0700) < 0 || !g_file_set_contents(conf, qemu_conf, -1, &error)) {
        *why = g_strdup_printf("cannot write %s: %s", conf, error ? error->message : "mkdir");
        return NULL;
    }
    conn = virConnectOpen(uri);
    if (conn == NULL)
        *why = g_strdup_printf("virConnectOpen(%s): %s", uri, lv_error());
    return conn;
}

static void stop_event_loop(GThread *thread)
{
    g_atomic_int_set(&event_loop_quit, 1);
    /* a timer due at once ends the loop's current wait */
    virEventAddTimeout(0, wake_event_loop, NULL, NULL);
    g_thread_join(thread);
}

int main(int argc, char **argv)
{
    Harness h = {0};
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(GHashTable) probed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *why = NULL;
    g_autofree char *validator = NULL;
    g_autofree char *tmp = NULL;
    g_autofree char *cache_dir = NULL;
    g_autofree char *log_outputs = NULL;
    gboolean keep = g_strcmp0(g_getenv("QT_LIBVIRT_TEST_KEEP"), "1") == 0;
    unsigned long lib_version = 0;
    GThread *event_thread;
    gint64 t0;

    if (argc != 3) {
        fprintf(stderr, "usage: %s QTOPOCTL CORPUS-DIR\n", argv[0]);
        return 2;
    }
    h.qtopoctl = argv[1];
    h.corpus = argv[2];
    h.no_qtopo = g_strcmp0(g_getenv("QT_LIBVIRT_TEST_NO_QTOPO"), "1") == 0;
    h.probed = probed;
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* the embedded driver runs QEMU with the privileges of this process,
     * and its namespaces and labels need root */
    validator = g_find_program_in_path("virt-xml-validate");
    if (validator == NULL) {
        printf("skip: no virt-xml-validate in PATH (Debian: libvirt-clients)\n");
        return EXIT_SKIP;
    }
    if (!h.no_qtopo && !g_file_test(h.qtopoctl, G_FILE_TEST_IS_EXECUTABLE)) {
        fprintf(stderr, "%s is not an executable\n", h.qtopoctl);
        return 1;
    }
    names = list_corpus(h.corpus, &error);
    if (names == NULL) {
        fprintf(stderr, "corpus: %s\n", error->message);
        return 1;
    }
    if (names->len == 0) {
        fprintf(stderr, "no domain of %s selected\n", h.corpus);
        return 1;
    }

    /* before any thread: all of them inherit the mask */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    tmp = g_dir_make_tmp("qtopo-libvirt-XXXXXX", &error);
    if (tmp == NULL) {
        fprintf(stderr, "%s\n", error->message);
        return 1;
    }
    h.tmp = tmp;
    cleanup_tmp = tmp;
    cache_dir = g_build_filename(tmp, "qtopo-cache", NULL);
    h.cache_dir = cache_dir;
    for (guint i = 0; i < 4; i++) {
        static const char *const dirs[] = {"in", "out", "disks", "libvirt"};
        g_autofree char *d = g_build_filename(tmp, dirs[i], NULL);
        g_mkdir(d, 0700);
    }
    g_thread_unref(g_thread_new("signals", signal_thread, NULL));

    /* libvirt's own log to a file: it logs errors it raises and recovers
     * from (no access manager, no /dev/mem for dmidecode) and warns that
     * every VM is "tainted" by root and the monitor command; the errors
     * that matter are reported with their domain */
    log_outputs = g_strdup_printf("3:file:%s/libvirt.log", tmp);
    g_setenv("LIBVIRT_LOG_OUTPUTS", log_outputs, FALSE);
    virSetErrorFunc(NULL, quiet_errors);
    xmlInitParser();
    if (virEventRegisterDefaultImpl() < 0) {
        fprintf(stderr, "virEventRegisterDefaultImpl: %s\n", lv_error());
        remove_tree(tmp);
        return 1;
    }
    event_thread = g_thread_new("libvirt-events", event_loop_thread, NULL);

    t0 = g_get_monotonic_time();
    h.conn = open_libvirt(tmp, &why);
    if (h.conn == NULL) {
        printf("skip: %s\n", why);
        stop_event_loop(event_thread);
        remove_tree(tmp);
        return EXIT_SKIP;
    }
    g_mutex_lock(&cleanup_lock);
    cleanup_conn = h.conn;
    g_mutex_unlock(&cleanup_lock);
    if (virConnectGetLibVersion(h.conn, &lib_version) < 0)
        lib_version = 0;
    printf("# libvirt %lu.%lu.%lu, embedded QEMU driver opened in %" G_GINT64_FORMAT " ms; %s\n",
           lib_version / 1000000, lib_version / 1000 % 1000, lib_version % 1000,
           (g_get_monotonic_time() - t0) / 1000, h.no_qtopo ? "without qtopoctl" : h.qtopoctl);

    t0 = g_get_monotonic_time();
    for (guint i = 0; i < names->len; i++)
        run_case(&h, names->pdata[i]);

    /* from here a signal leaves the VMs alone: there are none */
    g_mutex_lock(&cleanup_lock);
    cleanup_conn = NULL;
    g_mutex_unlock(&cleanup_lock);
    virConnectClose(h.conn);
    stop_event_loop(event_thread);
    if (keep)
        printf("# kept %s\n", tmp);
    else
        remove_tree(tmp);
    printf("# %u domains in %" G_GINT64_FORMAT " s\n", names->len,
           (g_get_monotonic_time() - t0) / G_USEC_PER_SEC);
    printf("libvirt: %u passed, %u failed, %u skipped\n", h.passed, h.failed, h.skipped);
    if (h.failed)
        return 1;
    return h.skipped ? EXIT_SKIP : 0;
}
