/* QtVarlinkInterface: a varlink interface description (varlink.org IDL)
 * parsed, so that a call's parameters can be checked against its method's
 * input before any handler runs, and a reply against its output in tests.
 *
 *   interface org.example.Name
 *   # documentation
 *   type T (field: string, other: ?[]int, choice: (a, b), map: [string]T)
 *   method M(in: T) -> (out: ?T)
 *   error E (detail: string)
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

#define QT_VARLINK_IDL_ERROR (qt_varlink_idl_error_quark())
GQuark qt_varlink_idl_error_quark(void);

typedef enum {
    QT_VARLINK_IDL_ERROR_SYNTAX,  /* the description does not parse */
    QT_VARLINK_IDL_ERROR_INVALID, /* a value does not match its type */
} QtVarlinkIdlError;

typedef enum {
    QT_VT_BOOL,
    QT_VT_INT,
    QT_VT_FLOAT,
    QT_VT_STRING,
    QT_VT_OBJECT, /* any JSON value */
    QT_VT_NAMED,  /* a type of the interface, by name */
    QT_VT_ENUM,
    QT_VT_STRUCT,
    QT_VT_ARRAY,
    QT_VT_MAP,   /* [string]T */
    QT_VT_MAYBE, /* ?T: null or absent allowed */
} QtVarlinkKind;

typedef struct _QtVarlinkType QtVarlinkType;

typedef struct {
    char *name;
    QtVarlinkType *type;
} QtVarlinkField;

struct _QtVarlinkType {
    QtVarlinkKind kind;
    char *name;           /* QT_VT_NAMED */
    GPtrArray *fields;    /* QT_VT_STRUCT: QtVarlinkField; QT_VT_ENUM: char * */
    QtVarlinkType *inner; /* QT_VT_ARRAY, QT_VT_MAP, QT_VT_MAYBE */
};

typedef struct {
    char *name;
    QtVarlinkType *in;  /* a struct */
    QtVarlinkType *out; /* a struct */
} QtVarlinkMethod;

typedef struct {
    char *name;          /* "org.qtopo.Topology" */
    char *description;   /* the text it was parsed from, as GetInterfaceDescription returns it */
    GHashTable *types;   /* name -> QtVarlinkType */
    GHashTable *methods; /* name -> QtVarlinkMethod */
    GHashTable *errors;  /* name -> QtVarlinkType (a struct) */
} QtVarlinkInterface;

QtVarlinkInterface *qt_varlink_interface_parse(const char *description, GError **error);
void qt_varlink_interface_free(QtVarlinkInterface *iface);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtVarlinkInterface, qt_varlink_interface_free)

const QtVarlinkMethod *qt_varlink_interface_find_method(const QtVarlinkInterface *iface,
                                                        const char *name);

/* does @value (NULL: absent or null) match @type?  On a mismatch
 * QT_VARLINK_IDL_ERROR_INVALID, and *@path (when given) is the offending
 * parameter's path ("devices[2].id"), as InvalidParameter reports it */
gboolean qt_varlink_type_check(const QtVarlinkInterface *iface, const QtVarlinkType *type,
                               json_object *value, char **path, GError **error);

G_END_DECLS
