#include <string.h>

#include <gio/gunixsocketaddress.h>

#include "qt-json.h"
#include "qt-varlink-client.h"

/* replies larger than this are refused: a client must not be made to
 * allocate without bound either */
#define MAX_REPLY (64 * 1024 * 1024)

struct _QtVarlinkClient {
    GSocket *socket;
    GByteArray *inbuf;
    gsize scanned;
};

void qt_varlink_client_free(QtVarlinkClient *client)
{
    if (client == NULL)
        return;
    if (client->socket)
        g_socket_close(client->socket, NULL);
    g_clear_object(&client->socket);
    g_byte_array_unref(client->inbuf);
    g_free(client);
}

/* "unix:PATH;ignored" or a bare path */
static char *address_path(const char *address, GError **error)
{
    g_autofree char *a = g_strdup(address);
    char *semi = strchr(a, ';');

    if (semi)
        *semi = '\0';
    if (g_str_has_prefix(a, "unix:"))
        return g_strdup(a + 5);
    if (strchr(a, ':') == NULL || a[0] == '/' || a[0] == '.')
        return g_steal_pointer(&a);
    g_set_error(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_IO,
                "unsupported varlink address '%s' (only unix: sockets)", address);
    return NULL;
}

QtVarlinkClient *qt_varlink_client_connect(const char *address, guint timeout_ms, GError **error)
{
    g_autofree char *path = address_path(address, error);
    g_autoptr(GSocketAddress) addr = NULL;
    g_autoptr(GSocket) socket = NULL;
    QtVarlinkClient *client;

    if (path == NULL)
        return NULL;
    addr = g_unix_socket_address_new(path);
    socket =
        g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, error);
    if (socket == NULL)
        return NULL;
    g_socket_set_timeout(socket, timeout_ms ? MAX(1, (timeout_ms + 999) / 1000) : 0);
    if (!g_socket_connect(socket, addr, NULL, error)) {
        g_prefix_error(error, "%s: ", path);
        return NULL;
    }
    client = g_new0(QtVarlinkClient, 1);
    client->socket = g_steal_pointer(&socket);
    client->inbuf = g_byte_array_new();
    return client;
}

gboolean qt_varlink_client_send_raw(QtVarlinkClient *client, const void *data, gsize len,
                                    GError **error)
{
    const char *p = data;

    while (len > 0) {
        gssize n = g_socket_send(client->socket, p, len, NULL, error);
        if (n < 0)
            return FALSE;
        p += n;
        len -= (gsize)n;
    }
    return TRUE;
}

char *qt_varlink_client_receive_raw(QtVarlinkClient *client, GError **error)
{
    for (;;) {
        /* memchr() must not be given NULL, even for no bytes */
        guint8 *nul = client->inbuf->len > client->scanned
                          ? memchr(client->inbuf->data + client->scanned, '\0',
                                   client->inbuf->len - client->scanned)
                          : NULL;
        g_autoptr(GError) local = NULL;
        guint old;
        gssize n;

        if (nul != NULL) {
            gsize len = (gsize)(nul - client->inbuf->data);
            char *msg = g_strndup((const char *)client->inbuf->data, len);
            g_byte_array_remove_range(client->inbuf, 0, (guint)len + 1);
            client->scanned = 0;
            return msg;
        }
        client->scanned = client->inbuf->len;
        if (client->inbuf->len > MAX_REPLY) {
            g_set_error(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_PROTOCOL,
                        "a reply longer than %d bytes", MAX_REPLY);
            return NULL;
        }
        old = client->inbuf->len;
        g_byte_array_set_size(client->inbuf, old + 65536);
        n = g_socket_receive(client->socket, (char *)client->inbuf->data + old, 65536, NULL,
                             &local);
        g_byte_array_set_size(client->inbuf, old + (guint)MAX(n, 0));
        if (n < 0 && g_error_matches(local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
            g_set_error(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_TIMEOUT,
                        "no reply from the service in time");
            return NULL;
        }
        if (n < 0) {
            g_propagate_error(error, g_steal_pointer(&local));
            return NULL;
        }
        if (n == 0) {
            g_set_error(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_IO,
                        "the service closed the connection%s",
                        client->inbuf->len ? " in the middle of a reply" : "");
            return NULL;
        }
    }
}

json_object *qt_varlink_client_call(QtVarlinkClient *client, const char *method,
                                    json_object *parameters, QtVarlinkCallFlags flags,
                                    QtVarlinkContinuesFunc continues, gpointer user_data,
                                    char **error_name, json_object **error_parameters,
                                    GError **error)
{
    g_autoptr(json_object) msg = json_object_new_object();
    const char *text;
    size_t len = 0;

    json_object_object_add(msg, "method", json_object_new_string(method));
    if (parameters)
        json_object_object_add(msg, "parameters", json_object_get(parameters));
    if (flags & QT_VARLINK_CALL_MORE)
        json_object_object_add(msg, "more", json_object_new_boolean(TRUE));
    if (flags & QT_VARLINK_CALL_ONEWAY)
        json_object_object_add(msg, "oneway", json_object_new_boolean(TRUE));
    text = json_object_to_json_string_length(
        msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    /* the NUL json-c leaves after the text is the message's terminator */
    if (!qt_varlink_client_send_raw(client, text, len + 1, error))
        return NULL;
    if (flags & QT_VARLINK_CALL_ONEWAY)
        return json_object_new_object();
    for (;;) {
        g_autofree char *raw = qt_varlink_client_receive_raw(client, error);
        g_autofree char *perr = NULL;
        g_autoptr(json_object) reply = NULL;
        json_object *params;
        const char *name;

        if (raw == NULL)
            return NULL;
        reply = qt_json_parse(raw, strlen(raw), &perr);
        if (reply == NULL || !json_object_is_type(reply, json_type_object)) {
            g_set_error(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_PROTOCOL,
                        "the reply is not a JSON object%s%s", perr ? ": " : "", perr ? perr : "");
            return NULL;
        }
        params = qt_json_get_typed(reply, "parameters", json_type_object);
        name = qt_json_get_string(reply, "error");
        if (name != NULL) {
            const char *detail =
                params ? json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE)
                       : "{}";
            g_set_error(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_REMOTE, "%s %s", name, detail);
            if (error_name)
                *error_name = g_strdup(name);
            if (error_parameters)
                *error_parameters = params ? json_object_get(params) : json_object_new_object();
            return NULL;
        }
        if (qt_json_get_bool(reply, "continues", FALSE)) {
            if (!(flags & QT_VARLINK_CALL_MORE)) {
                g_set_error(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_PROTOCOL,
                            "a reply that continues to a call without \"more\"");
                return NULL;
            }
            if (continues)
                continues(params, user_data);
            continue;
        }
        return params ? json_object_get(params) : json_object_new_object();
    }
}
