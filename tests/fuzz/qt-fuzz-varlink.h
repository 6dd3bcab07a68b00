/* what the varlink fuzz targets share: checking a value against every
 * method (input and output) and error of an interface */
#pragma once

#include "qt-varlink-idl.h"

G_BEGIN_DECLS

/* qt_varlink_type_check() of @value against all of @iface's types,
 * asserting that each answer is consistent (TRUE and no error, or FALSE
 * with an error and a path) */
void qt_fuzz_check_interface(const QtVarlinkInterface *iface, json_object *value);

G_END_DECLS
