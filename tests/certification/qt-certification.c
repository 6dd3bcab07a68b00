/* org.varlink.certification on QtVarlinkServer, for the certification
 * clients of the reference bindings (varlink-go-certification --client).
 *
 * A client calls Start, Test01 ... Test11 and End in this order, each with
 * the values the previous answer gave.  Every call is compared with the
 * message it should have been (method, parameters, "more", "oneway") and a
 * difference is answered with CertificationError (wants, got), so a fault
 * in the server's decoding, encoding, streaming or oneway handling fails
 * the run.  A failed run ends with End's all_ok false, since the error of a
 * oneway call never reaches the client.
 *
 * It is bound into a test-only build of qtopod (qtopod-certification:
 * daemon/qtopod.c built with QT_TEST_CERTIFICATION), so the certification
 * client talks to the daemon itself: its server, its main loop, its limits. */

#include <stdio.h>
#include <string.h>

#include "qt-config.h"
#include "qt-json.h"
#include "qt-certification-resources.h"
#include "qt-certification.h"
#include "qt-varlink-server.h"

#define IFACE           "org.varlink.certification"
#define IDL_RESOURCE    "/org/qtopo/certification/org.varlink.certification.varlink"
#define N_MORE_REPLIES  10
#define REPLY_TEXT      "Reply number %u"
#define CLIENT_ID_ERROR IFACE ".ClientIdError"
#define CERT_ERROR      IFACE ".CertificationError"

/* the values Test05 answers and Test06 and Test07 get back */
#define VALUES                                                                                     \
    "{\"bool\": false, \"int\": 2, \"float\": 3.141592653589793, \"string\": \"a lot of string\"}"
#define MAP "{\"map\": {\"foo\": \"Foo\", \"bar\": \"Bar\"}}"
#define SET "{\"set\": {\"one\": {}, \"two\": {}, \"three\": {}}}"
/* the MyType Test09 answers and Test10 gets back: every kind of type once,
 * the nullable members null (a client may leave them out) */
#define MYTYPE                                                                                     \
    "{\"mytype\": {"                                                                               \
    "\"object\": {\"method\": \"org.varlink.certification.Test09\","                               \
    " \"parameters\": {\"map\": {\"foo\": \"Foo\", \"bar\": \"Bar\"}}},"                           \
    "\"enum\": \"two\","                                                                           \
    "\"struct\": {\"first\": 1, \"second\": \"2\"},"                                               \
    "\"array\": [\"one\", \"two\", \"three\"],"                                                    \
    "\"dictionary\": {\"foo\": \"Foo\", \"bar\": \"Bar\"},"                                        \
    "\"stringset\": {\"one\": {}, \"two\": {}, \"three\": {}},"                                    \
    "\"nullable\": null,"                                                                          \
    "\"nullable_array_struct\": null,"                                                             \
    "\"interface\": {"                                                                             \
    "\"foo\": [null, {\"foo\": \"foo\", \"bar\": \"bar\"}, null, {\"one\": \"foo\", \"two\": "     \
    "\"bar\"}],"                                                                                   \
    "\"anon\": {\"foo\": true, \"bar\": false}}}}"

typedef enum {
    STEP_START,  /* no client_id yet; answers a new one */
    STEP_PLAIN,  /* one reply */
    STEP_MORE,   /* called with "more": N_MORE_REPLIES replies */
    STEP_ONEWAY, /* called "oneway": no reply */
    STEP_END,    /* answers all_ok and forgets the run */
} StepKind;

/* the calls in the order a client makes them: each one's parameters
 * (client_id aside) and reply, as JSON so that the table reads like the
 * messages on the wire.  Test11's parameters are what Test10 answered and
 * are built from REPLY_TEXT. */
static const struct {
    const char *method;
    StepKind kind;
    const char *wants;
    const char *reply;
} step_text[] = {
    {"Start", STEP_START, "{}", NULL},
    {"Test01", STEP_PLAIN, "{}", "{\"bool\": true}"},
    {"Test02", STEP_PLAIN, "{\"bool\": true}", "{\"int\": 1}"},
    {"Test03", STEP_PLAIN, "{\"int\": 1}", "{\"float\": 1.0}"},
    {"Test04", STEP_PLAIN, "{\"float\": 1.0}", "{\"string\": \"ping\"}"},
    {"Test05", STEP_PLAIN, "{\"string\": \"ping\"}", VALUES},
    {"Test06", STEP_PLAIN, VALUES, "{\"struct\": " VALUES "}"},
    {"Test07", STEP_PLAIN, "{\"struct\": " VALUES "}", MAP},
    {"Test08", STEP_PLAIN, MAP, SET},
    {"Test09", STEP_PLAIN, SET, MYTYPE},
    {"Test10", STEP_MORE, MYTYPE, NULL},
    {"Test11", STEP_ONEWAY, NULL, NULL},
    {"End", STEP_END, "{}", NULL},
};

#define N_STEPS G_N_ELEMENTS(step_text)

typedef struct _Certification Certification;

typedef struct {
    Certification *cert;
    guint index;
    const char *method; /* "Test01" */
    StepKind kind;
    json_object *wants; /* the parameters, client_id aside */
    json_object *reply;
} Step;

/* one client's run, from Start to End */
typedef struct {
    guint next; /* the step it must call next */
    gboolean failed;
} Run;

struct _Certification {
    Step steps[N_STEPS];
    /* client_id -> Run; not expired, since the service lives for one test */
    GHashTable *runs;
};

static json_object *parse_literal(const char *text)
{
    json_object *obj = json_tokener_parse(text);

    /* the literals are this file's own: a typo is a bug, not an input */
    g_assert(json_object_is_type(obj, json_type_object));
    return obj;
}

static void certification_init(Certification *cert)
{
    cert->runs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < N_STEPS; i++) {
        Step *step = &cert->steps[i];

        step->cert = cert;
        step->index = i;
        step->method = step_text[i].method;
        step->kind = step_text[i].kind;
        if (step_text[i].wants != NULL)
            step->wants = parse_literal(step_text[i].wants);
        if (step_text[i].reply != NULL)
            step->reply = parse_literal(step_text[i].reply);
        if (step->kind == STEP_ONEWAY) {
            json_object *replies = json_object_new_array();

            for (guint n = 1; n <= N_MORE_REPLIES; n++) {
                g_autofree char *text = g_strdup_printf(REPLY_TEXT, n);
                json_object_array_add(replies, json_object_new_string(text));
            }
            step->wants = json_object_new_object();
            json_object_object_add(step->wants, "last_more_replies", replies);
        }
    }
}

/* ---- comparing a call with what it should have been ---- */

static gboolean values_equal(json_object *a, json_object *b);

static gboolean is_number(json_type type)
{
    return type == json_type_int || type == json_type_double;
}

/* is every member of @a in @b with the same value (a null member the same
 * as an absent one, as varlink's ?T has it) */
static gboolean members_within(json_object *a, json_object *b)
{
    json_object_object_foreach(a, key, member)
    {
        json_object *other = NULL;

        json_object_object_get_ex(b, key, &other);
        if (!values_equal(member, other))
            return FALSE;
    }
    return TRUE;
}

/* numbers compare by value: a float may travel as "1" and come back an
 * integer to json-c */
static gboolean values_equal(json_object *a, json_object *b)
{
    json_type ta = json_object_get_type(a);
    json_type tb = json_object_get_type(b);

    if (is_number(ta) && is_number(tb)) {
        if (ta == json_type_int && tb == json_type_int)
            return json_object_get_int64(a) == json_object_get_int64(b);
        return json_object_get_double(a) == json_object_get_double(b);
    }
    if (ta != tb)
        return FALSE;
    switch (ta) {
    case json_type_null:
        return TRUE;
    case json_type_boolean:
        return !json_object_get_boolean(a) == !json_object_get_boolean(b);
    case json_type_string:
        return json_object_get_string_len(a) == json_object_get_string_len(b) &&
               memcmp(json_object_get_string(a), json_object_get_string(b),
                      json_object_get_string_len(a)) == 0;
    case json_type_array:
        if (json_object_array_length(a) != json_object_array_length(b))
            return FALSE;
        for (gsize i = 0; i < json_object_array_length(a); i++) {
            if (!values_equal(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
                return FALSE;
        }
        return TRUE;
    case json_type_object:
        return members_within(a, b) && members_within(b, a);
    case json_type_int:
    case json_type_double:
        break;
    }
    return FALSE;
}

/* a call message as the wire has it; takes @parameters */
static json_object *message_new(const char *method, json_object *parameters, gboolean more,
                                gboolean oneway)
{
    json_object *msg = json_object_new_object();
    g_autofree char *full = g_strconcat(IFACE ".", method, NULL);

    json_object_object_add(msg, "method", json_object_new_string(full));
    if (parameters != NULL)
        json_object_object_add(msg, "parameters", parameters);
    if (more)
        json_object_object_add(msg, "more", json_object_new_boolean(TRUE));
    if (oneway)
        json_object_object_add(msg, "oneway", json_object_new_boolean(TRUE));
    return msg;
}

/* the call @step should be for @client_id (NULL: Start) */
static json_object *wanted_call(const Step *step, const char *client_id)
{
    json_object *parameters = NULL;

    if (json_object_deep_copy(step->wants, &parameters, NULL) != 0)
        g_error("out of memory copying the wanted parameters");
    if (client_id != NULL)
        json_object_object_add(parameters, "client_id", json_object_new_string(client_id));
    return message_new(step->method, parameters, step->kind == STEP_MORE,
                       step->kind == STEP_ONEWAY);
}

/* the call as it arrived (no parameters and empty ones are the same call) */
static json_object *received_call(const Step *step, QtVarlinkCall *call, json_object *parameters)
{
    return message_new(step->method,
                       parameters != NULL ? json_object_get(parameters) : json_object_new_object(),
                       qt_varlink_call_wants_more(call), qt_varlink_call_is_oneway(call));
}

/* answer CertificationError and end @run (NULL: a Start) as failed: every
 * later call but End is out of order, and End answers all_ok false */
static void fail(const Step *step, QtVarlinkCall *call, Run *run, const char *client_id,
                 json_object *wants, json_object *got)
{
    json_object *data = json_object_new_object();

    /* on stderr too: the answer to a oneway call is never sent */
    g_printerr("certification: %s failed for client %s\n  wants: %s\n  got:   %s\n", step->method,
               client_id ? client_id : "(none)",
               json_object_to_json_string_ext(wants, JSON_C_TO_STRING_PLAIN),
               json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN));
    if (run != NULL) {
        run->failed = TRUE;
        run->next = N_STEPS - 1;
    }
    json_object_object_add(data, "wants", json_object_get(wants));
    json_object_object_add(data, "got", json_object_get(got));
    qt_varlink_call_error(call, CERT_ERROR, data);
}

static json_object *copy_reply(const Step *step)
{
    json_object *reply = NULL;

    if (json_object_deep_copy(step->reply, &reply, NULL) != 0)
        g_error("out of memory copying a reply");
    return reply;
}

static void reply_more(QtVarlinkCall *call)
{
    for (guint n = 1; n <= N_MORE_REPLIES; n++) {
        g_autofree char *text = g_strdup_printf(REPLY_TEXT, n);
        json_object *reply = json_object_new_object();

        json_object_object_add(reply, "string", json_object_new_string(text));
        if (n < N_MORE_REPLIES)
            qt_varlink_call_notify(call, reply);
        else
            qt_varlink_call_reply(call, reply);
    }
}

static void on_call(QtVarlinkCall *call, json_object *parameters, gpointer user_data)
{
    const Step *step = user_data;
    Certification *cert = step->cert;
    const char *client_id = NULL;
    Run *run = NULL;
    g_autoptr(json_object) wants = NULL;
    g_autoptr(json_object) got = NULL;
    json_object *reply;

    if (step->kind != STEP_START) {
        /* the server checked the parameters: client_id is a string */
        client_id = qt_json_get_string(parameters, "client_id");
        run = client_id ? g_hash_table_lookup(cert->runs, client_id) : NULL;
        if (run == NULL) {
            qt_varlink_call_error(call, CLIENT_ID_ERROR, json_object_new_object());
            return;
        }
        if (run->next != step->index) {
            wants = message_new(cert->steps[run->next].method, NULL, FALSE, FALSE);
            got = message_new(step->method, NULL, FALSE, FALSE);
            fail(step, call, run, client_id, wants, got);
            return;
        }
    }
    wants = wanted_call(step, client_id);
    got = received_call(step, call, parameters);
    if (!values_equal(wants, got)) {
        fail(step, call, run, client_id, wants, got);
        return;
    }

    switch (step->kind) {
    case STEP_START: {
        g_autofree char *id = g_uuid_string_random();
        Run *fresh = g_new0(Run, 1);

        fresh->next = step->index + 1;
        g_hash_table_insert(cert->runs, g_strdup(id), fresh);
        reply = json_object_new_object();
        json_object_object_add(reply, "client_id", json_object_new_string(id));
        qt_varlink_call_reply(call, reply);
        break;
    }
    case STEP_PLAIN:
        run->next++;
        qt_varlink_call_reply(call, copy_reply(step));
        break;
    case STEP_MORE:
        run->next++;
        reply_more(call);
        break;
    case STEP_ONEWAY:
        run->next++;
        /* ends the call; the server sends nothing for a oneway one */
        qt_varlink_call_reply(call, NULL);
        break;
    case STEP_END:
        reply = json_object_new_object();
        json_object_object_add(reply, "all_ok", json_object_new_boolean(!run->failed));
        g_hash_table_remove(cert->runs, client_id);
        qt_varlink_call_reply(call, reply);
        break;
    }
}

gboolean qt_certification_bind(QtVarlinkServer *server, GError **error)
{
    /* one for the process: the daemon never unbinds it */
    static Certification cert;
    g_autoptr(GBytes) idl =
        g_resource_lookup_data(qt_certification_get_resource(), IDL_RESOURCE, 0, error);

    if (idl == NULL)
        return FALSE;
    certification_init(&cert);
    /* resource data is always NUL-terminated */
    if (!qt_varlink_server_add_interface(server, g_bytes_get_data(idl, NULL), error))
        return FALSE;
    for (guint i = 0; i < N_STEPS; i++) {
        g_autofree char *method = g_strconcat(IFACE ".", cert.steps[i].method, NULL);

        if (!qt_varlink_server_bind(server, method, on_call, &cert.steps[i], error))
            return FALSE;
    }
    return TRUE;
}
