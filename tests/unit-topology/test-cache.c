/* unit tests of the probe cache: store and load in a temporary directory,
 * with a copy of /bin/true standing for the QEMU binary so that the tests
 * can touch, rewrite and replace it */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qt-test-support.h"

#include "qt-cache.h"
#include "qt-json.h"
#include "qt-model-fixture.h"
#include "qt-probe-error.h"

/* a schema that is not the current one, as text for the messages */
#define QT_CACHE_SCHEMA_NEXT 4
G_STATIC_ASSERT(QT_CACHE_SCHEMA_NEXT == QT_CACHE_SCHEMA + 1);

/* the writer child of the atomicity test dies by itself after this */
#define CHILD_ALARM_S 30

typedef struct {
    char *tmp;    /* a fresh temporary directory */
    char *binary; /* a copy of /bin/true in it */
    char *cache;  /* the cache directory, tmp/cache (not created) */
} Fixture;

/* ---- helpers ---- */

static void remove_tree(const char *path)
{
    GDir *dir;

    /* a test may have made it read-only */
    g_chmod(path, 0700);
    dir = g_dir_open(path, 0, NULL);
    if (dir != NULL) {
        const char *name;

        while ((name = g_dir_read_name(dir)) != NULL) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            remove_tree(child);
        }
        g_dir_close(dir);
    }
    g_remove(path);
}

static void copy_file(const char *from, const char *to)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *contents = NULL;
    gsize len = 0;

    if (!g_file_get_contents(from, &contents, &len, &error) ||
        !g_file_set_contents(to, contents, (gssize)len, &error))
        fail_msg("copying %s: %s", from, error->message);
}

static int setup(void **state)
{
    g_autoptr(GError) error = NULL;
    Fixture *f = g_new0(Fixture, 1);

    f->tmp = g_dir_make_tmp("qtopo-cache-XXXXXX", &error);
    assert_no_error(error);
    f->binary = g_build_filename(f->tmp, "qemu-system-test", NULL);
    copy_file("/bin/true", f->binary);
    f->cache = g_build_filename(f->tmp, "cache", NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;

    remove_tree(f->tmp);
    g_free(f->tmp);
    g_free(f->binary);
    g_free(f->cache);
    g_free(f);
    return 0;
}

/* the fixture model of @path, with the file's identity */
static QtEmulator *model_of(const char *path, guint extra)
{
    g_autoptr(GError) error = NULL;
    QtEmulator *e = qt_fixture_model_grown(path, extra);

    if (!qt_emulator_identity_read(path, &e->identity, &error))
        fail_msg("%s", error->message);
    return e;
}

static void store(const char *dir, const QtEmulator *e)
{
    g_autoptr(GError) error = NULL;

    if (!qt_cache_store(dir, e, &error))
        fail_msg("store: %s", error->message);
}

static gint name_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* the names in @dir, sorted, space separated; "" when empty, "-" when
 * there is no such directory */
static char *listing(const char *dir)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GString) out = g_string_new(NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;

    if (d == NULL)
        return g_strdup("-");
    while ((name = g_dir_read_name(d)) != NULL)
        g_ptr_array_add(names, g_strdup(name));
    g_dir_close(d);
    g_ptr_array_sort(names, name_cmp);
    for (guint i = 0; i < names->len; i++)
        g_string_append_printf(out, "%s%s", i ? " " : "", (char *)names->pdata[i]);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

static char *cache_file_name(const char *dir, const char *binary)
{
    g_autofree char *path = qt_cache_path(dir, binary);

    return g_path_get_basename(path);
}

static char *read_text(const char *path)
{
    g_autoptr(GError) error = NULL;
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, &error))
        fail_msg("%s", error->message);
    return text;
}

static json_object *parse_text(const char *text)
{
    g_autofree char *why = NULL;
    json_object *doc = qt_json_parse(text, strlen(text), &why);

    if (doc == NULL)
        fail_msg("not JSON: %s", why);
    return doc;
}

static void write_text(const char *path, const char *text, gssize len)
{
    g_autoptr(GError) error = NULL;

    if (!g_file_set_contents(path, text, len, &error))
        fail_msg("%s", error->message);
}

/* loading gives the model @e, byte for byte */
static void assert_loads(const char *dir, const QtEmulator *e)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtEmulator) back = qt_cache_load(dir, e->path, &error);
    g_autofree char *want = NULL;
    g_autofree char *got = NULL;

    assert_no_error(error);
    assert_non_null(back);
    want = qt_fixture_text(e);
    got = qt_fixture_text(back);
    assert_string_equal(got, want);
}

static void assert_load_fails(const char *dir, const char *binary, int code, const char *what)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtEmulator) e = qt_cache_load(dir, binary, &error);

    if (e != NULL)
        fail_msg("%s: loaded", what);
    if (!g_error_matches(error, QT_PROBE_ERROR, code))
        fail_msg("%s: expected QT_PROBE_ERROR %d, got %s", what, code,
                 error ? error->message : "no error");
}

/* ---- paths ---- */

static void test_paths(void **state)
{
    g_autofree char *p = qt_cache_path("/var/cache/qtopo", "/usr/bin/qemu-system-x86_64");
    g_autofree char *cwd = g_get_current_dir();
    g_autofree char *abs = g_build_filename(cwd, "rel", "qemu", NULL);
    g_autofree char *rel_path = qt_cache_path("/d", "rel/qemu");
    g_autofree char *abs_path = qt_cache_path("/d", abs);
    g_autofree char *dotted = qt_cache_path("/d", "/usr/bin/../bin/./qemu-system-x86_64");
    g_autofree char *plain = qt_cache_path("/d", "/usr/bin/qemu-system-x86_64");
    g_autofree char *def = qt_cache_default_dir();

    /* sha256 of the path's bytes: printf %s /usr/bin/qemu-system-x86_64 | sha256sum */
    assert_string_equal(p, "/var/cache/qtopo/"
                           "926803a9278e445ec919c2b6cbd8c1c449c75b26dcb1686b774314180376c725.json");
    assert_string_equal(rel_path, abs_path);
    assert_string_equal(dotted, plain);
    /* main() set XDG_CACHE_HOME before anything read it */
    assert_string_equal(def, "/nonexistent/xdg-cache/qtopo");
}

static void test_identity_read(void **state)
{
    Fixture *f = *state;
    g_autoptr(GError) error = NULL;
    g_autofree char *missing = g_build_filename(f->tmp, "no-such-binary", NULL);
    QtEmulatorIdentity a = {0};
    QtEmulatorIdentity b;
    struct stat st;

    assert_false(qt_emulator_identity_read(missing, &a, &error));
    assert_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_NOT_FOUND);
    g_clear_error(&error);

    assert_true(qt_emulator_identity_read(f->binary, &a, &error));
    assert_no_error(error);
    assert_int_equal(stat(f->binary, &st), 0);
    assert_int_equal(a.size, st.st_size);
    assert_int_equal(a.inode, st.st_ino);
    assert_int_equal(a.device, st.st_dev);
    assert_int_equal(a.mtime_ns, (gint64)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
    assert_int_equal(a.ctime_ns, (gint64)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);
    assert_true(qt_emulator_identity_equal(&a, &a));
    /* any one field makes another binary */
    for (int field = 0; field < 5; field++) {
        b = a;
        switch (field) {
        case 0:
            b.size++;
            break;
        case 1:
            b.mtime_ns++;
            break;
        case 2:
            b.ctime_ns++;
            break;
        case 3:
            b.inode++;
            break;
        default:
            b.device++;
            break;
        }
        assert_false(qt_emulator_identity_equal(&a, &b));
    }
}

/* ---- store and load ---- */

static void test_store_load(void **state)
{
    Fixture *f = *state;
    g_autoptr(QtEmulator) e = model_of(f->binary, 0);
    g_autoptr(QtEmulator) e2 = model_of(f->binary, 3);
    g_autofree char *path = qt_cache_path(f->cache, f->binary);
    g_autofree char *name = cache_file_name(f->cache, f->binary);
    g_autofree char *list = NULL;
    g_autofree char *list2 = NULL;
    struct stat st;

    store(f->cache, e);
    /* the directory is made when needed, the document is world-readable */
    assert_int_equal(stat(f->cache, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    list = listing(f->cache);
    assert_string_equal(list, name);
    assert_loads(f->cache, e);

    /* a second store replaces the document, and leaves nothing else */
    store(f->cache, e2);
    list2 = listing(f->cache);
    assert_string_equal(list2, name);
    assert_loads(f->cache, e2);
}

static void test_store_deep_dir(void **state)
{
    Fixture *f = *state;
    g_autoptr(QtEmulator) e = model_of(f->binary, 0);
    g_autofree char *deep = g_build_filename(f->tmp, "a", "b", "c", NULL);

    /* the parents of a missing cache directory are made too */
    store(deep, e);
    assert_loads(deep, e);
}

static void test_missing(void **state)
{
    Fixture *f = *state;
    g_autoptr(QtEmulator) e = model_of(f->binary, 0);
    g_autofree char *other = g_build_filename(f->tmp, "qemu-system-other", NULL);

    assert_load_fails(f->cache, f->binary, QT_PROBE_ERROR_NOT_FOUND, "no directory");
    assert_int_equal(g_mkdir(f->cache, 0755), 0);
    assert_load_fails(f->cache, f->binary, QT_PROBE_ERROR_NOT_FOUND, "empty directory");
    copy_file(f->binary, other);
    store(f->cache, e);
    assert_load_fails(f->cache, other, QT_PROBE_ERROR_NOT_FOUND, "another binary");
    assert_loads(f->cache, e);
}

/* ---- the binary changed ---- */

static void change_mtime(const char *path)
{
    struct stat st;
    struct timespec times[2];

    assert_int_equal(stat(path, &st), 0);
    times[0] = st.st_atim;
    times[1] = st.st_mtim;
    times[1].tv_sec += 1;
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void append_byte(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
}

/* same bytes, same times, another inode: a package upgrade that kept
 * everything else */
static void replace_same(const char *path)
{
    g_autofree char *tmp = g_strconcat(path, ".new", NULL);
    struct stat st;
    struct timespec times[2];

    assert_int_equal(stat(path, &st), 0);
    copy_file(path, tmp);
    times[0] = st.st_atim;
    times[1] = st.st_mtim;
    assert_int_equal(utimensat(AT_FDCWD, tmp, times, 0), 0);
    assert_int_equal(g_rename(tmp, path), 0);
}

/* only ctime moves: what a package manager keeping mtimes leaves */
static void change_ctime(const char *path)
{
    /* past the kernel's timestamp granularity */
    g_usleep(20000);
    assert_int_equal(g_chmod(path, 0700), 0);
}

static void test_binary_changed(void **state)
{
    Fixture *f = *state;
    static const struct {
        const char *what;
        void (*change)(const char *path);
    } changes[] = {
        {"mtime", change_mtime},
        {"size", append_byte},
        {"inode", replace_same},
        {"ctime", change_ctime},
    };

    for (guint i = 0; i < G_N_ELEMENTS(changes); i++) {
        g_autoptr(QtEmulator) e = model_of(f->binary, 0);
        g_autoptr(GError) error = NULL;
        g_autoptr(QtEmulator) back = NULL;
        g_autofree char *path = qt_cache_path(f->cache, f->binary);
        QtEmulatorIdentity now;

        store(f->cache, e);
        assert_loads(f->cache, e);
        changes[i].change(f->binary);
        /* the change is the one the test means */
        assert_true(qt_emulator_identity_read(f->binary, &now, NULL));
        switch (i) {
        case 0:
            assert_true(now.mtime_ns != e->identity.mtime_ns);
            break;
        case 1:
            assert_true(now.size != e->identity.size);
            break;
        case 2:
            assert_true(now.inode != e->identity.inode);
            assert_int_equal(now.size, e->identity.size);
            assert_int_equal(now.mtime_ns, e->identity.mtime_ns);
            break;
        default:
            assert_true(now.ctime_ns != e->identity.ctime_ns);
            assert_int_equal(now.mtime_ns, e->identity.mtime_ns);
            assert_int_equal(now.inode, e->identity.inode);
            break;
        }
        back = qt_cache_load(f->cache, f->binary, &error);
        if (back != NULL)
            fail_msg("%s changed: loaded", changes[i].what);
        assert_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID);
        assert_non_null(strstr(error->message, "the binary changed since it was probed"));
        /* not corrupt: the document stays until the next probe replaces it */
        assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
    }
}

static void test_binary_removed(void **state)
{
    Fixture *f = *state;
    g_autoptr(QtEmulator) e = model_of(f->binary, 0);

    store(f->cache, e);
    assert_int_equal(g_unlink(f->binary), 0);
    assert_load_fails(f->cache, f->binary, QT_PROBE_ERROR_CACHE_INVALID, "binary removed");
}

/* ---- corrupt documents ---- */

/* a document that must be refused and removed */
static void assert_discarded(Fixture *f, const char *text, gssize len, const char *what)
{
    g_autofree char *path = qt_cache_path(f->cache, f->binary);
    g_autofree char *list = NULL;

    write_text(path, text, len);
    assert_load_fails(f->cache, f->binary, QT_PROBE_ERROR_CACHE_INVALID, what);
    if (g_file_test(path, G_FILE_TEST_EXISTS))
        fail_msg("%s: the document was not removed", what);
    list = listing(f->cache);
    assert_string_equal(list, "");
}

static void test_corrupt(void **state)
{
    Fixture *f = *state;
    g_autoptr(QtEmulator) e = model_of(f->binary, 0);
    g_autofree char *path = qt_cache_path(f->cache, f->binary);
    g_autofree char *text = NULL;
    g_autofree char *bad_slot = NULL;
    g_autofree char *other_text = NULL;
    g_autofree char *other = g_build_filename(f->tmp, "qemu-system-other", NULL);
    g_autoptr(QtEmulator) eo = NULL;
    g_autofree char *other_path = NULL;
    static const char *const garbage[] = {
        "garbage",
        "null",
        "[]",
        "1",
        "\"x\"",
        "{}",
        "{\"schema\": \"1\"}",
        /* the current schema, and nothing else */
        "{\"schema\": " G_STRINGIFY(QT_CACHE_SCHEMA) "}",
        "{\"schema\": " G_STRINGIFY(QT_CACHE_SCHEMA) "} {}",
    };
    gsize len;

    store(f->cache, e);
    text = read_text(path);
    len = strlen(text);
    assert_true(len > 1000);

    /* cut anywhere before the closing brace */
    for (gsize n = 0; n + 1 < len; n += (n < 64 ? 1 : 61)) {
        g_autofree char *what = g_strdup_printf("truncated to %" G_GSIZE_FORMAT, n);
        assert_discarded(f, text, (gssize)n, what);
    }
    assert_discarded(f, text, (gssize)len - 2, "without its closing brace");
    for (guint i = 0; i < G_N_ELEMENTS(garbage); i++)
        assert_discarded(f, garbage[i], -1, garbage[i]);
    assert_discarded(f, "\0\1\2\xff{", 5, "binary");

    /* valid JSON, invalid model */
    {
        g_autoptr(json_object) doc = parse_text(text);
        json_object *classes = json_object_object_get(doc, "classes");
        json_object *roots =
            json_object_object_get(json_object_array_get_idx(classes, 0), "rootBuses");
        json_object *bus = json_object_object_get(json_object_array_get_idx(roots, 0), "bus");
        json_object *use = json_object_array_get_idx(json_object_object_get(bus, "occupied"), 3);

        assert_non_null(use);
        json_object_object_add(use, "slot", json_object_new_int(99));
        bad_slot = g_strdup(json_object_to_json_string(doc));
    }
    assert_discarded(f, bad_slot, -1, "slot 99");

    /* the document of another binary under this one's name */
    copy_file(f->binary, other);
    eo = model_of(other, 0);
    store(f->cache, eo);
    other_path = qt_cache_path(f->cache, other);
    other_text = read_text(other_path);
    assert_int_equal(g_unlink(other_path), 0);
    assert_discarded(f, other_text, -1, "another binary's document");

    /* and the original still loads: the refusals were for the documents */
    write_text(path, text, -1);
    assert_loads(f->cache, e);
}

static void test_other_schema(void **state)
{
    Fixture *f = *state;
    g_autoptr(QtEmulator) e = model_of(f->binary, 0);
    g_autofree char *path = qt_cache_path(f->cache, f->binary);
    g_autofree char *text = NULL;
    g_autoptr(json_object) doc = NULL;

    store(f->cache, e);
    text = read_text(path);
    doc = parse_text(text);
    json_object_object_add(doc, "schema", json_object_new_int(QT_CACHE_SCHEMA + 1));
    write_text(path, json_object_to_json_string(doc), -1);
    assert_load_fails(f->cache, f->binary, QT_PROBE_ERROR_CACHE_INVALID,
                      "schema " G_STRINGIFY(QT_CACHE_SCHEMA_NEXT));
    /* another qtopo's document is not corrupt: it stays */
    assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
    /* and the next store replaces it */
    store(f->cache, e);
    assert_loads(f->cache, e);
}

static void test_unreadable(void **state)
{
    Fixture *f = *state;
    g_autofree char *path = qt_cache_path(f->cache, f->binary);

    /* a directory under the document's name: not missing, not corrupt */
    assert_int_equal(g_mkdir_with_parents(path, 0755), 0);
    assert_load_fails(f->cache, f->binary, QT_PROBE_ERROR_CACHE_INVALID, "a directory");
    assert_true(g_file_test(path, G_FILE_TEST_IS_DIR));
}

/* ---- failed stores ---- */

static void assert_store_fails(const char *dir, const QtEmulator *e, const char *what)
{
    g_autoptr(GError) error = NULL;

    if (qt_cache_store(dir, e, &error))
        fail_msg("%s: stored", what);
    if (error == NULL)
        fail_msg("%s: no error", what);
    assert_non_null(strstr(error->message, e->path));
}

static void test_store_errors(void **state)
{
    Fixture *f = *state;
    g_autoptr(QtEmulator) e = model_of(f->binary, 0);
    g_autofree char *file = g_build_filename(f->tmp, "a-file", NULL);
    g_autofree char *under_file = g_build_filename(file, "cache", NULL);
    g_autofree char *path = qt_cache_path(f->cache, f->binary);
    g_autofree char *name = cache_file_name(f->cache, f->binary);
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *list = NULL;

    /* a cache directory that cannot be made */
    write_text(file, "x", -1);
    before = listing(f->tmp);
    {
        g_autoptr(GError) error = NULL;
        assert_false(qt_cache_store(under_file, e, &error));
        assert_non_null(error);
    }
    after = listing(f->tmp);
    assert_string_equal(after, before);

    /* the rename fails: a directory holds the document's name */
    assert_int_equal(g_mkdir_with_parents(path, 0755), 0);
    assert_store_fails(f->cache, e, "onto a directory");
    list = listing(f->cache);
    assert_string_equal(list, name);
    assert_int_equal(g_rmdir(path), 0);

    /* a read-only directory: root writes anyway, so only as a user */
    if (geteuid() != 0) {
        g_autofree char *ro = NULL;

        assert_int_equal(g_chmod(f->cache, 0555), 0);
        assert_store_fails(f->cache, e, "read-only directory");
        ro = listing(f->cache);
        assert_string_equal(ro, "");
        assert_int_equal(g_chmod(f->cache, 0755), 0);
    } else {
        print_message("read-only directory: not checked as root\n");
    }
}

/* the disk fills up in the middle of a store: the old document stays, no
 * temporary file is left */
static void test_store_disk_full(void **state)
{
    Fixture *f = *state;
    g_autoptr(QtEmulator) small = model_of(f->binary, 0);
    g_autoptr(QtEmulator) big = model_of(f->binary, 200);
    g_autofree char *name = cache_file_name(f->cache, f->binary);
    g_autofree char *list = NULL;
    pid_t pid;
    int status = 0;
    int fds[2];
    char outcome;

    store(f->cache, small);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit lim;
        GError *error = NULL;

        outcome = 'F';
        alarm(CHILD_ALARM_S);
        /* EFBIG instead of the signal */
        signal(SIGXFSZ, SIG_IGN);
        if (getrlimit(RLIMIT_FSIZE, &lim) != 0)
            outcome = 'L';
        lim.rlim_cur = 4096;
        if (outcome == 'L' || setrlimit(RLIMIT_FSIZE, &lim) != 0)
            outcome = 'L';
        else if (qt_cache_store(f->cache, big, &error))
            outcome = 'S';
        else if (error != NULL)
            outcome = 'E';
        /* through a pipe, not the exit status, which valgrind may replace */
        if (write(fds[1], &outcome, 1) != 1)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    outcome = 0;
    assert_int_equal(read(fds[0], &outcome, 1), 1);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* E: the store failed with an error */
    if (outcome != 'E')
        fail_msg("the store under a 4 KiB file size limit: outcome %c", outcome);
    list = listing(f->cache);
    assert_string_equal(list, name);
    assert_loads(f->cache, small);
}

/* ---- atomicity ---- */

static gboolean is_one_of(const char *text, const char *a, const char *b)
{
    return g_str_equal(text, a) || g_str_equal(text, b);
}

/* a writer stores two documents in turn, as fast as it can, and is killed
 * at random moments; the reader never sees anything but one of the two
 * whole documents under the real name */
static void test_atomic(void **state)
{
    Fixture *f = *state;
    g_autoptr(QtEmulator) a = model_of(f->binary, 0);
    g_autoptr(QtEmulator) b = model_of(f->binary, 300);
    g_autofree char *path = qt_cache_path(f->cache, f->binary);
    g_autofree char *text_a = NULL;
    g_autofree char *text_b = NULL;
    g_autoptr(GRand) rand = g_rand_new_with_seed(42);
    guint reads = 0;
    guint saw_a = 0;
    guint saw_b = 0;

    store(f->cache, b);
    text_b = read_text(path);
    store(f->cache, a);
    text_a = read_text(path);
    assert_true(strlen(text_b) > 3 * strlen(text_a));

    for (int round = 0; round < 10; round++) {
        gint64 until = g_get_monotonic_time() + g_rand_int_range(rand, 5, 100) * 1000;
        g_autofree char *last = NULL;
        int status = 0;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(CHILD_ALARM_S);
            for (;;) {
                if (!qt_cache_store(f->cache, a, NULL) || !qt_cache_store(f->cache, b, NULL))
                    _exit(1);
            }
        }
        while (g_get_monotonic_time() < until) {
            g_autofree char *text = NULL;
            gsize len = 0;

            if (!g_file_get_contents(path, &text, &len, NULL)) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                fail_msg("round %d: the document vanished", round);
            }
            reads++;
            if (!is_one_of(text, text_a, text_b)) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                fail_msg("round %d: a partial document of %" G_GSIZE_FORMAT " bytes", round, len);
            }
            saw_a += g_str_equal(text, text_a);
            saw_b += g_str_equal(text, text_b);
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        /* killed, not failed */
        assert_true(WIFSIGNALED(status));
        last = read_text(path);
        assert_true(is_one_of(last, text_a, text_b));
        assert_loads(f->cache, g_str_equal(last, text_a) ? a : b);
    }
    print_message("%u reads: %u of the small document, %u of the large one\n", reads, saw_a, saw_b);
    assert_true(reads > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_deep_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic, setup, teardown),
    };

    /* before GLib reads it, once per process */
    g_setenv("XDG_CACHE_HOME", "/nonexistent/xdg-cache", TRUE);
    /* the modes the tests expect */
    umask(022);
    return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
