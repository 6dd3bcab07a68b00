/* unit: QtVarlinkServer and QtVarlinkClient together, in one process: the
 * server runs on the test's main loop, the client in a thread (it blocks).
 * Framing (several messages in one write, one message over many writes),
 * replies in call order when a handler answers late, more/continues,
 * oneway, the standard errors, the size limit, the idle and I/O deadlines,
 * the connection limits (total and per user), the bounds on calls in
 * flight and on replies a client does not read, and call ranks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "qt-json.h"
#include "qt-varlink-client.h"
#include "qt-varlink-server.h"

static const char *const test_iface = "interface org.qtopo.Test\n"
                                      "# answer at once\n"
                                      "method Echo(text: string) -> (text: string)\n"
                                      "# answer after ms milliseconds\n"
                                      "method Later(ms: int, text: string) -> (text: string)\n"
                                      "# count to n, one reply each\n"
                                      "method Count(n: int) -> (i: int)\n"
                                      "method Unbound() -> ()\n"
                                      "# a reply of size bytes\n"
                                      "method Big(size: int) -> (text: string)\n"
                                      "# the call's rank\n"
                                      "method Rank() -> (rank: int)\n"
                                      "error Nope (why: string)\n";

typedef struct {
    QtVarlinkServer *server;
    char *dir;
    char *path;
    GMainLoop *loop;
} Fixture;

static void on_echo(QtVarlinkCall *call, json_object *params, gpointer user_data)
{
    json_object *r = json_object_new_object();
    json_object_object_add(r, "text", json_object_get(json_object_object_get(params, "text")));
    qt_varlink_call_reply(call, r);
}

typedef struct {
    QtVarlinkCall *call;
    char *text;
} Later;

/* handlers answered later, now and at most */
static guint later_open, later_open_max;

static gboolean on_later_fire(gpointer data)
{
    Later *l = data;
    json_object *r = json_object_new_object();
    json_object_object_add(r, "text", json_object_new_string(l->text));
    qt_varlink_call_reply(l->call, r);
    qt_varlink_call_unref(l->call);
    later_open--;
    g_free(l->text);
    g_free(l);
    return G_SOURCE_REMOVE;
}

static void on_later(QtVarlinkCall *call, json_object *params, gpointer user_data)
{
    Later *l = g_new0(Later, 1);
    later_open++;
    later_open_max = MAX(later_open_max, later_open);
    l->call = qt_varlink_call_ref(call);
    l->text = g_strdup(qt_json_get_string(params, "text"));
    g_timeout_add((guint)qt_json_get_int(params, "ms", 0), on_later_fire, l);
}

static void on_count(QtVarlinkCall *call, json_object *params, gpointer user_data)
{
    gint64 n = qt_json_get_int(params, "n", 0);

    for (gint64 i = 0; i < n; i++) {
        json_object *r = json_object_new_object();
        json_object_object_add(r, "i", json_object_new_int64(i));
        if (i + 1 < n)
            qt_varlink_call_notify(call, r);
        else
            qt_varlink_call_reply(call, r);
    }
}

static void on_big(QtVarlinkCall *call, json_object *params, gpointer user_data)
{
    gsize size = (gsize)qt_json_get_int(params, "size", 0);
    g_autofree char *text = g_malloc(size + 1);
    json_object *r = json_object_new_object();

    memset(text, 'x', size);
    text[size] = '\0';
    json_object_object_add(r, "text", json_object_new_string(text));
    qt_varlink_call_reply(call, r);
}

static void on_rank(QtVarlinkCall *call, json_object *params, gpointer user_data)
{
    json_object *r = json_object_new_object();
    json_object_object_add(r, "rank", json_object_new_int64(qt_varlink_call_get_rank(call)));
    qt_varlink_call_reply(call, r);
}

static Fixture *fixture_new(const QtVarlinkLimits *limits)
{
    Fixture *f = g_new0(Fixture, 1);
    g_autoptr(GError) error = NULL;

    f->dir = g_dir_make_tmp("qt-varlink-XXXXXX", &error);
    assert_non_null(f->dir);
    f->path = g_build_filename(f->dir, "sock", NULL);
    f->server = qt_varlink_server_new("qtopo", "test", "1", "https://example.org");
    qt_varlink_server_set_limits(f->server, limits);
    assert_true(qt_varlink_server_add_interface(f->server, test_iface, &error));
    assert_true(qt_varlink_server_bind(f->server, "org.qtopo.Test.Echo", on_echo, NULL, &error));
    assert_true(qt_varlink_server_bind(f->server, "org.qtopo.Test.Later", on_later, NULL, &error));
    assert_true(qt_varlink_server_bind(f->server, "org.qtopo.Test.Count", on_count, NULL, &error));
    assert_true(qt_varlink_server_bind(f->server, "org.qtopo.Test.Big", on_big, NULL, &error));
    assert_true(qt_varlink_server_bind(f->server, "org.qtopo.Test.Rank", on_rank, NULL, &error));
    assert_false(qt_varlink_server_bind(f->server, "org.qtopo.Test.Missing", on_echo, NULL, NULL));
    assert_true(qt_varlink_server_listen_path(f->server, f->path, &error));
    f->loop = g_main_loop_new(NULL, FALSE);
    return f;
}

static void fixture_free(Fixture *f)
{
    qt_varlink_server_free(f->server);
    unlink(f->path);
    rmdir(f->dir);
    g_main_loop_unref(f->loop);
    g_free(f->path);
    g_free(f->dir);
    g_free(f);
}

/* run @func in a thread while the main loop serves; it returns a string
 * describing what it saw, or a failure message starting with "FAIL" */
typedef char *(*ClientFunc)(Fixture *f);

typedef struct {
    Fixture *f;
    ClientFunc func;
    char *result;
} Run;

static gboolean quit_loop(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

static gpointer client_thread(gpointer data)
{
    Run *run = data;
    run->result = run->func(run->f);
    g_idle_add(quit_loop, run->f->loop);
    return NULL;
}

static char *run_client(Fixture *f, ClientFunc func)
{
    Run run = {f, func, NULL};
    GThread *t = g_thread_new("client", client_thread, &run);
    guint guard = g_timeout_add_seconds(20, quit_loop, f->loop);

    g_main_loop_run(f->loop);
    g_source_remove(guard);
    g_thread_join(t);
    return run.result;
}

static QtVarlinkClient *connect_or_null(Fixture *f)
{
    return qt_varlink_client_connect(f->path, 10000, NULL);
}

static char *raw_exchange(QtVarlinkClient *c, const char *data, gsize len, int replies)
{
    GString *out = g_string_new(NULL);

    if (!qt_varlink_client_send_raw(c, data, len, NULL))
        return g_strdup("FAIL send");
    for (int i = 0; i < replies; i++) {
        g_autofree char *m = qt_varlink_client_receive_raw(c, NULL);
        if (m == NULL) {
            g_string_append(out, "EOF");
            break;
        }
        g_string_append_printf(out, "%s%s", i ? "\n" : "", m);
    }
    return g_string_free(out, FALSE);
}

/* ---- cases ---- */

static char *client_pipelined(Fixture *f)
{
    g_autoptr(QtVarlinkClient) c = connect_or_null(f);
    /* a late answer first: the replies after it must wait for it */
    static const char msgs[] =
        "{\"method\":\"org.qtopo.Test.Later\",\"parameters\":{\"ms\":200,\"text\":\"a\"}}\0"
        "{\"method\":\"org.qtopo.Test.Echo\",\"parameters\":{\"text\":\"b\"}}\0"
        "{\"method\":\"org.qtopo.Test.Echo\",\"oneway\":true,\"parameters\":{\"text\":\"x\"}}\0"
        "{\"method\":\"org.qtopo.Test.Later\",\"parameters\":{\"ms\":50,\"text\":\"c\"}}\0"
        "{\"method\":\"org.qtopo.Test.Echo\",\"parameters\":{\"text\":7}}\0";

    if (c == NULL)
        return g_strdup("FAIL connect");
    return raw_exchange(c, msgs, sizeof msgs - 1, 4);
}

static void test_pipelined_in_order(void **state)
{
    Fixture *f = fixture_new(NULL);
    g_autofree char *got = run_client(f, client_pipelined);

    assert_string_equal(got, "{\"parameters\":{\"text\":\"a\"}}\n"
                             "{\"parameters\":{\"text\":\"b\"}}\n"
                             "{\"parameters\":{\"text\":\"c\"}}\n"
                             "{\"error\":\"org.varlink.service.InvalidParameter\","
                             "\"parameters\":{\"parameter\":\"text\"}}");
    fixture_free(f);
}

static char *client_byte_by_byte(Fixture *f)
{
    g_autoptr(QtVarlinkClient) c = connect_or_null(f);
    static const char msg[] =
        "{\"method\":\"org.qtopo.Test.Echo\",\"parameters\":{\"text\":\"é\"}}";

    for (gsize i = 0; i < sizeof msg; i++) {
        if (!qt_varlink_client_send_raw(c, msg + i, 1, NULL))
            return g_strdup("FAIL send");
        g_usleep(200);
    }
    return qt_varlink_client_receive_raw(c, NULL);
}

static void test_split_message(void **state)
{
    Fixture *f = fixture_new(NULL);
    g_autofree char *got = run_client(f, client_byte_by_byte);

    assert_string_equal(got, "{\"parameters\":{\"text\":\"é\"}}");
    fixture_free(f);
}

static int counted;

static void on_continues(json_object *params, gpointer user_data)
{
    counted++;
}

static char *client_more(Fixture *f)
{
    g_autoptr(QtVarlinkClient) c = connect_or_null(f);
    g_autoptr(json_object) p = json_object_new_object();
    g_autoptr(json_object) r = NULL;
    g_autoptr(json_object) r2 = NULL;

    json_object_object_add(p, "n", json_object_new_int(5));
    counted = 0;
    r = qt_varlink_client_call(c, "org.qtopo.Test.Count", p, QT_VARLINK_CALL_MORE, on_continues,
                               NULL, NULL, NULL, NULL);
    if (r == NULL)
        return g_strdup("FAIL more");
    /* without more, the intermediate replies are not sent */
    r2 = qt_varlink_client_call(c, "org.qtopo.Test.Count", p, 0, NULL, NULL, NULL, NULL, NULL);
    return g_strdup_printf("%d %d %d", counted, (int)qt_json_get_int(r, "i", -1),
                           r2 ? (int)qt_json_get_int(r2, "i", -1) : -2);
}

static void test_more(void **state)
{
    Fixture *f = fixture_new(NULL);
    g_autofree char *got = run_client(f, client_more);

    assert_string_equal(got, "4 4 4");
    fixture_free(f);
}

static char *client_errors(Fixture *f)
{
    g_autoptr(QtVarlinkClient) c = connect_or_null(f);
    static const char msgs[] = "{nope\0"
                               "[1,2]\0"
                               "{\"parameters\":{}}\0"
                               "{\"method\":\"org.qtopo.Nothing.X\"}\0"
                               "{\"method\":\"org.qtopo.Test.Nothing\"}\0"
                               "{\"method\":\"org.qtopo.Test.Unbound\"}\0"
                               "{\"method\":\"org.qtopo.Test.Echo\",\"upgrade\":true,"
                               "\"parameters\":{\"text\":\"u\"}}\0"
                               "{\"method\":\"org.qtopo.Test.Echo\",\"parameters\":[]}\0"
                               "{\"method\":\"org.qtopo.Test.Echo\",\"more\":1}\0"
                               "{\"method\":\"org.qtopo.Test.Echo\",\"parameters\":"
                               "{\"text\":\"t\",\"extra\":1}}\0"
                               "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                               "\"parameters\":{\"interface\":\"org.qtopo.Test\"}}\0";
    g_autofree char *got = raw_exchange(c, msgs, sizeof msgs - 1, 11);
    g_auto(GStrv) lines = g_strsplit(got, "\n", -1);
    GString *names = g_string_new(NULL);

    /* the error names (or "ok"), one per line */
    for (char **l = lines; *l; l++) {
        g_autoptr(json_object) o = qt_json_parse(*l, strlen(*l), NULL);
        const char *e = qt_json_get_string(o, "error");
        json_object *p = qt_json_get_typed(o, "parameters", json_type_object);
        const char *param = qt_json_get_string(p, "parameter");
        g_string_append_printf(names, "%s%s%s%s\n", e ? e : "ok", param ? " " : "",
                               param ? param : "",
                               qt_json_get_string(p, "description") ? " described" : "");
    }
    return g_string_free(names, FALSE);
}

/* text that C would cut short, or that is not UTF-8: refused before any
 * method sees it, and every reply is valid UTF-8 */
static char *client_text(Fixture *f)
{
    g_autoptr(QtVarlinkClient) c = connect_or_null(f);
    static const char msgs[] =
        /* a NUL inside: "n" to C, a collision with "n\u0000y" */
        "{\"method\":\"org.qtopo.Test.Echo\",\"parameters\":{\"text\":\"n\\u0000x\"}}\0"
        /* a byte that is no UTF-8 */
        "{\"method\":\"org.qtopo.Test.Echo\",\"parameters\":{\"text\":\"pc-q35-7.2\xff\"}}\0"
        /* an overlong NUL */
        "{\"method\":\"org.qtopo.Test.Echo\",\"parameters\":{\"text\":\"a\xc0\x80\"}}\0"
        /* a surrogate, encoded; and escaped alone, which json-c reads as
         * U+FFFD: the reply is UTF-8 all the same */
        "{\"method\":\"org.qtopo.Test.Echo\",\"parameters\":{\"text\":\"\xed\xa0\x80\"}}\0"
        "{\"method\":\"org.qtopo.Test.Echo\",\"parameters\":{\"text\":\"\\ud800\"}}\0"
        /* in the method name */
        "{\"method\":\"org.qtopo.Test.Echo\xfe\",\"parameters\":{\"text\":\"m\"}}\0"
        /* valid: a pair escaped, and UTF-8 as it is */
        "{\"method\":\"org.qtopo.Test.Echo\",\"parameters\":{\"text\":\"\\ud83d\\ude00 "
        "\xc3\xa9\"}}\0";
    GString *names = g_string_new(NULL);

    if (c == NULL)
        return g_strdup("FAIL connect");
    if (!qt_varlink_client_send_raw(c, msgs, sizeof msgs - 1, NULL))
        return g_strdup("FAIL send");
    for (int i = 0; i < 7; i++) {
        g_autofree char *m = qt_varlink_client_receive_raw(c, NULL);
        g_autoptr(json_object) o = NULL;
        json_object *p;
        const char *e;

        if (m == NULL) {
            g_string_append(names, "EOF\n");
            break;
        }
        if (!g_utf8_validate(m, -1, NULL)) {
            g_string_append(names, "a reply that is not UTF-8\n");
            continue;
        }
        o = qt_json_parse(m, strlen(m), NULL);
        e = qt_json_get_string(o, "error");
        p = qt_json_get_typed(o, e ? "parameters" : "parameters", json_type_object);
        if (e != NULL)
            g_string_append_printf(
                names, "%s%s%s\n", e, qt_json_get_string(p, "parameter") ? " " : "",
                qt_json_get_string(p, "parameter") ? qt_json_get_string(p, "parameter") : "");
        else
            g_string_append_printf(names, "ok %s\n", qt_json_get_string(p, "text"));
    }
    return g_string_free(names, FALSE);
}

static void test_text(void **state)
{
    Fixture *f = fixture_new(NULL);
    g_autofree char *got = run_client(f, client_text);

    assert_string_equal(got, "org.varlink.service.InvalidParameter text\n"
                             "org.qtopo.Protocol.MalformedMessage\n"
                             "org.qtopo.Protocol.MalformedMessage\n"
                             "org.qtopo.Protocol.MalformedMessage\n"
                             "ok \xef\xbf\xbd\n"
                             "org.qtopo.Protocol.MalformedMessage\n"
                             "ok \xf0\x9f\x98\x80 \xc3\xa9\n");
    fixture_free(f);
}

static void test_errors(void **state)
{
    Fixture *f = fixture_new(NULL);
    g_autofree char *got = run_client(f, client_errors);

    assert_string_equal(got, "org.qtopo.Protocol.MalformedMessage\n"
                             "org.qtopo.Protocol.MalformedMessage\n"
                             "org.qtopo.Protocol.MalformedMessage\n"
                             "org.varlink.service.InterfaceNotFound\n"
                             "org.varlink.service.MethodNotFound\n"
                             "org.varlink.service.MethodNotImplemented\n"
                             "org.varlink.service.InvalidParameter upgrade\n"
                             "org.varlink.service.InvalidParameter parameters\n"
                             "org.qtopo.Protocol.MalformedMessage\n"
                             "org.varlink.service.InvalidParameter extra\n"
                             "ok described\n");
    fixture_free(f);
}

static char *client_oversize(Fixture *f)
{
    g_autoptr(QtVarlinkClient) c = connect_or_null(f);
    g_autoptr(QtVarlinkClient) other = connect_or_null(f);
    g_autofree char *big = g_malloc(70000);
    g_autofree char *first = NULL;
    g_autofree char *then = NULL;
    g_autoptr(json_object) p = json_object_new_object();
    g_autoptr(json_object) r = NULL;

    memset(big, ' ', 70000);
    big[0] = '{';
    qt_varlink_client_send_raw(c, big, 70000, NULL);
    first = qt_varlink_client_receive_raw(c, NULL);
    then = qt_varlink_client_receive_raw(c, NULL);
    json_object_object_add(p, "text", json_object_new_string("still"));
    r = qt_varlink_client_call(other, "org.qtopo.Test.Echo", p, 0, NULL, NULL, NULL, NULL, NULL);
    return g_strdup_printf("%s|%s|%s", first ? first : "EOF", then ? then : "EOF",
                           r ? qt_json_get_string(r, "text") : "FAIL");
}

static void test_oversize(void **state)
{
    QtVarlinkLimits l = {.max_message_size = 65536};
    Fixture *f = fixture_new(&l);
    g_autofree char *got = run_client(f, client_oversize);

    assert_string_equal(got, "{\"error\":\"org.qtopo.Protocol.MessageTooLarge\","
                             "\"parameters\":{\"limit\":65536}}|EOF|still");
    fixture_free(f);
}

static char *client_deadlines(Fixture *f)
{
    g_autoptr(QtVarlinkClient) idle = connect_or_null(f);
    g_autoptr(QtVarlinkClient) slow = connect_or_null(f);
    g_autoptr(QtVarlinkClient) busy = connect_or_null(f);
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;
    g_autofree char *c = NULL;
    gint64 t0 = g_get_monotonic_time();
    static const char later[] =
        "{\"method\":\"org.qtopo.Test.Later\",\"parameters\":{\"ms\":700,\"text\":\"x\"}}";

    /* a call in flight is not idleness: it is answered past the deadline */
    qt_varlink_client_send_raw(busy, later, sizeof later, NULL);
    qt_varlink_client_send_raw(slow, "{\"method\":", 10, NULL);
    a = qt_varlink_client_receive_raw(idle, NULL);
    b = qt_varlink_client_receive_raw(slow, NULL);
    c = qt_varlink_client_receive_raw(busy, NULL);
    return g_strdup_printf("%s %s %s %s", a ? a : "EOF", b ? b : "EOF", c ? "answered" : "EOF",
                           g_get_monotonic_time() - t0 < 3000000 ? "in time" : "late");
}

static void test_deadlines(void **state)
{
    QtVarlinkLimits l = {.idle_timeout_ms = 400, .io_timeout_ms = 300};
    Fixture *f = fixture_new(&l);
    g_autofree char *got = run_client(f, client_deadlines);

    assert_string_equal(got, "EOF EOF answered in time");
    fixture_free(f);
}

static char *client_limit(Fixture *f)
{
    g_autoptr(QtVarlinkClient) a = connect_or_null(f);
    g_autoptr(QtVarlinkClient) b = connect_or_null(f);
    g_autoptr(QtVarlinkClient) c = connect_or_null(f);
    g_autoptr(json_object) p = json_object_new_object();
    g_autoptr(json_object) ra = NULL;
    g_autoptr(json_object) rc = NULL;
    g_autoptr(json_object) ep = NULL;
    g_autofree char *name = NULL;
    g_autofree char *after = NULL;

    json_object_object_add(p, "text", json_object_new_string("hi"));
    ra = qt_varlink_client_call(a, "org.qtopo.Test.Echo", p, 0, NULL, NULL, NULL, NULL, NULL);
    rc = c ? qt_varlink_client_call(c, "org.qtopo.Test.Echo", p, 0, NULL, NULL, &name, &ep, NULL)
           : NULL;
    /* a refused connection is then closed */
    if (c != NULL && rc == NULL)
        after = qt_varlink_client_receive_raw(c, NULL);
    return g_strdup_printf("%s %s %s %s", ra ? "a-ok" : "a-fail", rc ? "c-served" : name,
                           ep ? json_object_to_json_string_ext(ep, JSON_C_TO_STRING_PLAIN) : "-",
                           rc      ? "open"
                           : after ? "more"
                                   : "EOF");
}

static void test_connection_limit(void **state)
{
    QtVarlinkLimits l = {.max_connections = 2};
    Fixture *f = fixture_new(&l);
    g_autofree char *got = run_client(f, client_limit);

    assert_string_equal(got, "a-ok org.qtopo.Protocol.TooManyConnections "
                             "{\"limit\":2,\"scope\":\"total\"} EOF");
    fixture_free(f);
}

/* three connections of this process's user, with a limit of two per user:
 * root is exempt, anyone else gets TooManyConnections on the third */
static void test_connection_limit_per_user(void **state)
{
    QtVarlinkLimits l = {.max_connections_per_uid = 2};
    Fixture *f = fixture_new(&l);
    g_autofree char *got = run_client(f, client_limit);

    if (geteuid() == 0)
        assert_string_equal(got, "a-ok c-served - open");
    else
        assert_string_equal(got, "a-ok org.qtopo.Protocol.TooManyConnections "
                                 "{\"limit\":2,\"scope\":\"user\"} EOF");
    fixture_free(f);
}

/* ---- what a client costs the others ---- */

/* the most the server held at once, sampled on its loop */
static gsize buffered_max;

static gboolean sample_buffered(gpointer data)
{
    QtVarlinkServerStats st;

    qt_varlink_server_get_stats(data, &st);
    buffered_max = MAX(buffered_max, st.buffered_bytes);
    return G_SOURCE_CONTINUE;
}

/* run @func; the most the server held meanwhile */
static gsize run_sampled(Fixture *f, ClientFunc func, char **got)
{
    guint sampler;

    buffered_max = 0;
    sampler = g_timeout_add(2, sample_buffered, f->server);
    *got = run_client(f, func);
    g_source_remove(sampler);
    return buffered_max;
}

#define BIG_CALLS 1000
#define BIG_SIZE  16384

static GString *big_calls(guint n)
{
    GString *msgs = g_string_new(NULL);

    for (guint i = 0; i < n; i++) {
        g_string_append_printf(msgs,
                               "{\"method\":\"org.qtopo.Test.Big\",\"parameters\":"
                               "{\"size\":%d}}",
                               BIG_SIZE);
        g_string_append_c(msgs, '\0');
    }
    return msgs;
}

/* read @n replies of Big; NULL if all came whole, in order */
static char *read_big(QtVarlinkClient *c, guint n)
{
    for (guint i = 0; i < n; i++) {
        g_autofree char *m = qt_varlink_client_receive_raw(c, NULL);
        g_autoptr(json_object) o = m ? json_tokener_parse(m) : NULL;
        json_object *p = o ? json_object_object_get(o, "parameters") : NULL;
        const char *text = p ? qt_json_get_string(p, "text") : NULL;
        if (text == NULL || strlen(text) != BIG_SIZE)
            return g_strdup_printf("FAIL reply %u: %.80s", i, m ? m : "EOF");
    }
    return NULL;
}

/* a client sends a thousand calls of 16 KiB replies and reads nothing for
 * a while: the server reads its calls only while it owes it less than the
 * limit, then all replies arrive */
static char *client_no_reading(Fixture *f)
{
    g_autoptr(QtVarlinkClient) c = connect_or_null(f);
    g_autoptr(GString) msgs = big_calls(BIG_CALLS);
    char *bad;

    if (c == NULL || !qt_varlink_client_send_raw(c, msgs->str, msgs->len, NULL))
        return g_strdup("FAIL send");
    g_usleep(300000);
    bad = read_big(c, BIG_CALLS);
    return bad ? bad : g_strdup("all replies");
}

static void test_unsent_bound(void **state)
{
    QtVarlinkLimits l = {.max_unsent_bytes = 65536, .max_calls_in_flight = 4};
    Fixture *f = fixture_new(&l);
    g_autofree char *got = NULL;
    gsize held = run_sampled(f, client_no_reading, &got);

    assert_string_equal(got, "all replies");
    print_message("at most %zu bytes held for a client owing %d KiB\n", held,
                  BIG_CALLS * BIG_SIZE / 1024);
    /* the limit, a reply over it, one read of calls and a JSON envelope */
    assert_true(held > 0);
    assert_true(held <= 65536 + 2 * (BIG_SIZE + 64) + 65536);
    fixture_free(f);
}

/* one client sends calls and reads nothing; another reads its replies: it
 * is served at once while the first is held over the total budget */
static char *client_budget(Fixture *f)
{
    g_autoptr(QtVarlinkClient) hog = connect_or_null(f);
    g_autoptr(QtVarlinkClient) good = connect_or_null(f);
    g_autoptr(GString) msgs = big_calls(BIG_CALLS);
    g_autoptr(json_object) p = json_object_new_object();
    gint64 worst = 0;
    char *bad;

    if (hog == NULL || good == NULL || !qt_varlink_client_send_raw(hog, msgs->str, msgs->len, NULL))
        return g_strdup("FAIL send");
    json_object_object_add(p, "text", json_object_new_string("hi"));
    for (int i = 0; i < 20; i++) {
        gint64 t0 = g_get_monotonic_time();
        g_autoptr(json_object) r =
            qt_varlink_client_call(good, "org.qtopo.Test.Echo", p, 0, NULL, NULL, NULL, NULL, NULL);
        if (r == NULL)
            return g_strdup("FAIL the good client's call");
        worst = MAX(worst, g_get_monotonic_time() - t0);
        g_usleep(10000);
    }
    bad = read_big(hog, BIG_CALLS);
    if (bad)
        return bad;
    /* on 2 busy cores: generous */
    return g_strdup(worst < 200000 ? "served" : "FAIL slow");
}

static void test_budget(void **state)
{
    QtVarlinkLimits l = {.max_buffered_bytes = 32768};
    Fixture *f = fixture_new(&l);
    g_autofree char *got = NULL;
    gsize held = run_sampled(f, client_budget, &got);

    assert_string_equal(got, "served");
    print_message("at most %zu bytes held with a budget of 32 KiB\n", held);
    assert_true(held <= 32768 + 2 * (BIG_SIZE + 64) + 65536);
    fixture_free(f);
}

/* five slow calls at once on a connection that may have two in flight:
 * the handlers never see more than two, the replies come in order */
static char *client_in_flight(Fixture *f)
{
    g_autoptr(QtVarlinkClient) c = connect_or_null(f);
    GString *msgs = g_string_new(NULL);
    char *got;

    for (int i = 0; i < 5; i++) {
        g_string_append_printf(msgs,
                               "{\"method\":\"org.qtopo.Test.Later\",\"parameters\":"
                               "{\"ms\":30,\"text\":\"%d\"}}",
                               i);
        g_string_append_c(msgs, '\0');
    }
    got = c ? raw_exchange(c, msgs->str, msgs->len, 5) : g_strdup("FAIL connect");
    g_string_free(msgs, TRUE);
    return got;
}

static void test_calls_in_flight(void **state)
{
    QtVarlinkLimits l = {.max_calls_in_flight = 2};
    Fixture *f = fixture_new(&l);
    g_autofree char *got = NULL;

    later_open = later_open_max = 0;
    got = run_client(f, client_in_flight);
    assert_string_equal(got, "{\"parameters\":{\"text\":\"0\"}}\n"
                             "{\"parameters\":{\"text\":\"1\"}}\n"
                             "{\"parameters\":{\"text\":\"2\"}}\n"
                             "{\"parameters\":{\"text\":\"3\"}}\n"
                             "{\"parameters\":{\"text\":\"4\"}}");
    assert_int_equal(later_open_max, 2);
    fixture_free(f);
}

/* a call's rank: the calls of its connection still unanswered */
static char *client_rank(Fixture *f)
{
    g_autoptr(QtVarlinkClient) c = connect_or_null(f);
    static const char msgs[] =
        "{\"method\":\"org.qtopo.Test.Later\",\"parameters\":{\"ms\":100,\"text\":\"a\"}}\0"
        "{\"method\":\"org.qtopo.Test.Rank\"}\0"
        "{\"method\":\"org.qtopo.Test.Rank\"}\0"
        "{\"method\":\"org.qtopo.Test.Rank\"}\0";
    static const char alone[] = "{\"method\":\"org.qtopo.Test.Rank\"}";
    g_autofree char *first = NULL;
    g_autofree char *second = NULL;

    if (c == NULL)
        return g_strdup("FAIL connect");
    first = raw_exchange(c, msgs, sizeof msgs - 1, 4);
    second = raw_exchange(c, alone, sizeof alone, 1);
    return g_strdup_printf("%s\n%s", first, second);
}

static void test_rank(void **state)
{
    Fixture *f = fixture_new(NULL);
    g_autofree char *got = run_client(f, client_rank);

    assert_string_equal(got, "{\"parameters\":{\"text\":\"a\"}}\n"
                             "{\"parameters\":{\"rank\":1}}\n"
                             "{\"parameters\":{\"rank\":2}}\n"
                             "{\"parameters\":{\"rank\":3}}\n"
                             "{\"parameters\":{\"rank\":0}}");
    fixture_free(f);
}

static char *client_info(Fixture *f)
{
    g_autoptr(QtVarlinkClient) c = connect_or_null(f);
    g_autoptr(json_object) r = qt_varlink_client_call(c, "org.varlink.service.GetInfo", NULL, 0,
                                                      NULL, NULL, NULL, NULL, NULL);
    g_autofree char *name = NULL;
    g_autoptr(json_object) ep = NULL;
    g_autoptr(json_object) p = json_object_new_object();
    g_autoptr(json_object) r2 = NULL;

    json_object_object_add(p, "interface", json_object_new_string("org.nothing"));
    r2 = qt_varlink_client_call(c, "org.varlink.service.GetInterfaceDescription", p, 0, NULL, NULL,
                                &name, &ep, NULL);
    return g_strdup_printf("%s %s %s",
                           r ? json_object_to_json_string_ext(
                                   json_object_object_get(r, "interfaces"), JSON_C_TO_STRING_PLAIN)
                             : "FAIL",
                           name ? name : "none", qt_json_get_string(ep, "interface"));
}

static void test_get_info(void **state)
{
    Fixture *f = fixture_new(NULL);
    g_autofree char *got = run_client(f, client_info);

    assert_string_equal(got, "[\"org.varlink.service\",\"org.qtopo.Protocol\",\"org.qtopo.Test\"] "
                             "org.varlink.service.InterfaceNotFound org.nothing");
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_in_order),
        cmocka_unit_test(test_split_message),
        cmocka_unit_test(test_more),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_connection_limit_per_user),
        cmocka_unit_test(test_unsent_bound),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_calls_in_flight),
        cmocka_unit_test(test_rank),
        cmocka_unit_test(test_get_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
