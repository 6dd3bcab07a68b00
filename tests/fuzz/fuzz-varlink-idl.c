/* fuzz: the varlink IDL parser (varlink/qt-varlink-idl.c).  The input is
 * a description, optionally followed by a NUL and a JSON value; when the
 * description parses, the value is checked against each of its methods,
 * errors and types, so that what the parser lets through (recursive and
 * nested types, odd names) meets the check too. */
#include <string.h>

#include "qt-fuzz-varlink.h"
#include "qt-fuzz.h"
#include "qt-json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    qt_fuzz_init(NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = qt_fuzz_strndup(data, size);
    gsize text_len = strlen(text);
    g_autoptr(GError) error = NULL;
    g_autoptr(QtVarlinkInterface) iface = qt_varlink_interface_parse(text, &error);
    g_autoptr(json_object) value = NULL;

    g_assert((iface == NULL) != (error == NULL));
    if (iface == NULL) {
        g_debug("refused: %s", error->message);
        return 0;
    }
    g_assert(iface->name != NULL && g_strcmp0(iface->description, text) == 0);
    if (text_len < size)
        value = qt_json_parse((const char *)data + text_len + 1, size - text_len - 1, NULL);
    /* absent (NULL) is a value too: every required field is missing */
    qt_fuzz_check_interface(iface, value);
    return 0;
}
