/* org.varlink.certification for a test-only build of qtopod */
#pragma once

#include "qt-varlink-server.h"

G_BEGIN_DECLS

/* add org.varlink.certification to @server and bind its methods */
gboolean qt_certification_bind(QtVarlinkServer *server, GError **error);

G_END_DECLS
