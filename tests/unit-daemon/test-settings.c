/* unit: qtopod.conf parsing: the defaults, every key, and each kind of
 * mistake reported with the file and line */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "qt-settings.h"

static QtSettings *load(const char *text, GError **error)
{
    return qt_settings_load_data(text, strlen(text), "test.conf", error);
}

static void assert_fails(const char *text, const char *message)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtSettings) s = load(text, &error);

    assert_null(s);
    assert_non_null(error);
    if (strstr(error->message, message) == NULL)
        fail_msg("expected '%s' in '%s'", message, error->message);
}

static void test_defaults(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtSettings) s = load("# nothing\n\n", &error);

    assert_non_null(s);
    assert_string_equal(s->emulators[0], "/usr/bin/qemu-system-*");
    assert_null(s->emulators[1]);
    assert_int_equal(s->max_connections, 256);
    assert_int_equal(s->max_message_size, 16 * 1024 * 1024);
    assert_int_equal(s->idle_timeout_s, 300);
    assert_int_equal(s->spare_slots, -1);
    assert_null(s->controller_models);
    assert_null(s->socket_group);
    assert_true(s->probe_at_start);
    assert_string_equal(s->accel, "tcg");
}

static void test_every_key(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtSettings) s = load("[qtopod]\n"
                                   "emulators=/a/qemu-system-x86_64; /b/qemu-*\n"
                                   "cache-dir=/var/cache/x\n"
                                   "socket-group=root\n"
                                   "max-connections=8\n"
                                   "max-message-size=65536\n"
                                   "idle-timeout=0\n"
                                   "io-timeout=3\n"
                                   "probe-at-start=false\n"
                                   "[probe]\n"
                                   "jobs=4\n"
                                   "class-jobs=2\n"
                                   "accel=kvm\n"
                                   "startup-timeout=20\n"
                                   "command-timeout=40\n"
                                   "[placement]\n"
                                   "spare-slots=3\n"
                                   "controller-models=ioh3420;pcie-root-port\n",
                                   &error);

    assert_non_null(s);
    assert_string_equal(s->emulators[1], "/b/qemu-*");
    assert_string_equal(s->cache_dir, "/var/cache/x");
    assert_int_equal(s->socket_gid, 0);
    assert_int_equal(s->max_connections, 8);
    assert_int_equal(s->max_message_size, 65536);
    assert_int_equal(s->idle_timeout_s, 0);
    assert_int_equal(s->io_timeout_s, 3);
    assert_false(s->probe_at_start);
    assert_int_equal(s->jobs, 4);
    assert_int_equal(s->class_jobs, 2);
    assert_string_equal(s->accel, "kvm");
    assert_int_equal(s->startup_timeout_s, 20);
    assert_int_equal(s->command_timeout_s, 40);
    assert_int_equal(s->spare_slots, 3);
    assert_string_equal(s->controller_models[0], "ioh3420");
    assert_string_equal(s->controller_models[1], "pcie-root-port");
}

static void test_empty_means_default(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtSettings) s = load("[qtopod]\nsocket-group=\n[placement]\nspare-slots=\n", &error);

    assert_non_null(s);
    assert_null(s->socket_group);
    assert_int_equal(s->spare_slots, -1);
}

static void test_mistakes_name_the_line(void **state)
{
    assert_fails("[qtopod]\n\nmax-conections=3\n", "test.conf:3: unknown key 'max-conections'");
    assert_fails("# c\n[qtopd]\nx=1\n", "test.conf:2: unknown group [qtopd]");
    assert_fails("[probe]\njobs=4\njobs2=1\n", "test.conf:3:");
    assert_fails("[probe]\n# x\njobs=many\n", "test.conf:3: jobs: 'many' is not a whole number");
    assert_fails("[probe]\njobs=-1\n", "test.conf:2:");
    assert_fails("[probe]\njobs=65\n", "from 0 to 64");
    assert_fails("[qtopod]\nmax-message-size=1024\n", "test.conf:2:");
    assert_fails("[qtopod]\nprobe-at-start=maybe\n", "test.conf:2: probe-at-start: 'maybe'");
    assert_fails("[qtopod]\nemulators=qemu-system-x86_64\n", "not an absolute path");
    assert_fails("[qtopod]\nemulators= ; \n", "an empty list");
    assert_fails("[qtopod]\nsocket-group=no-such-group-qtopo\n", "test.conf:2: socket-group");
    assert_fails("[qtopod]\ncache-dir=\n", "test.conf:2: cache-dir: empty value");
    assert_fails("[qtopod]\njust words\n", "test.conf:2:");
    assert_fails("[placement]\nspare-slots=300\n", "from 0 to 256");
}

static void test_missing_file(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtSettings) ok = qt_settings_load("/nonexistent/qtopod.conf", TRUE, &error);
    g_autoptr(QtSettings) bad = NULL;

    assert_non_null(ok);
    bad = qt_settings_load("/nonexistent/qtopod.conf", FALSE, &error);
    assert_null(bad);
    assert_true(g_error_matches(error, QT_SETTINGS_ERROR, QT_SETTINGS_ERROR_IO));
}

static void test_expand_emulators(void **state)
{
    g_autofree char *dir = g_dir_make_tmp("qt-settings-XXXXXX", NULL);
    g_autofree char *a = g_build_filename(dir, "qemu-system-a", NULL);
    g_autofree char *b = g_build_filename(dir, "qemu-system-b", NULL);
    g_autofree char *c = g_build_filename(dir, "qemu-system-c", NULL); /* not executable */
    g_autofree char *link = g_build_filename(dir, "alias", NULL);
    g_autofree char *conf = NULL;
    g_autoptr(QtSettings) s = NULL;
    g_autoptr(GPtrArray) found = NULL;
    g_autofree char *via_link = NULL;

    g_file_set_contents(a, "", 0, NULL);
    g_file_set_contents(b, "", 0, NULL);
    g_file_set_contents(c, "", 0, NULL);
    chmod(a, 0755);
    chmod(b, 0755);
    assert_int_equal(symlink(dir, link), 0);
    /* the same binaries through a linked directory count once */
    conf = g_strdup_printf("[qtopod]\nemulators=%s/qemu-system-*;%s/qemu-system-a;/none/x\n", dir,
                           link);
    s = load(conf, NULL);
    assert_non_null(s);
    found = qt_settings_expand_emulators(s);
    assert_int_equal(found->len, 2);
    assert_string_equal(found->pdata[0], a);
    assert_string_equal(found->pdata[1], b);
    via_link = g_build_filename(link, "qemu-system-b", NULL);
    {
        g_autofree char *n = qt_settings_normalize_path(via_link);
        assert_string_equal(n, b);
    }
    unlink(a);
    unlink(b);
    unlink(c);
    unlink(link);
    rmdir(dir);
}

/* the configuration file qtopo ships: as it is (every key commented out)
 * and with every key uncommented, it loads */
static void test_shipped_file(void **state)
{
    g_autofree char *root = g_path_get_dirname(g_getenv("QT_TEST_DATA"));
    g_autofree char *src = g_path_get_dirname(root);
    g_autofree char *path = g_build_filename(src, "conf", "qtopod.conf", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(QtSettings) as_is = NULL;
    g_autoptr(QtSettings) uncommented = NULL;
    g_autoptr(GString) u = g_string_new(NULL);
    g_auto(GStrv) lines = NULL;
    int keys = 0;

    assert_true(g_file_get_contents(path, &text, NULL, &error));
    as_is = load(text, &error);
    assert_non_null(as_is);
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *eq = strchr(*l, '=');
        gboolean key = (*l)[0] == '#' && g_ascii_islower((*l)[1]) && eq && !strchr(*l, ' ');
        keys += key;
        g_string_append(u, key ? *l + 1 : *l);
        g_string_append_c(u, '\n');
    }
    uncommented = load(u->str, &error);
    if (uncommented == NULL)
        fail_msg("%s", error->message);
    /* every key the daemon knows is in the file */
    assert_int_equal(keys, 18);
    assert_int_equal(uncommented->max_connections_per_user, 64);
    assert_int_equal(uncommented->max_unsent_bytes, 1024 * 1024);
    assert_int_equal(uncommented->max_buffered_bytes, 64 * 1024 * 1024);
    assert_int_equal(uncommented->class_jobs, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_empty_means_default),
        cmocka_unit_test(test_mistakes_name_the_line),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_expand_emulators),
        cmocka_unit_test(test_shipped_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
