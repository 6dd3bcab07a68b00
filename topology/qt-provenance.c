#include "qt-provenance.h"

#include "qt-enum-private.h"

QtProvenance *qt_provenance_new(QtSource source, const char *detail, const char *outcome)
{
    QtProvenance *p = g_new0(QtProvenance, 1);

    p->source = source;
    p->detail = g_strdup(detail);
    p->outcome = g_strdup(outcome);
    return p;
}

QtProvenance *qt_provenance_copy(const QtProvenance *p)
{
    if (p == NULL)
        return NULL;
    return qt_provenance_new(p->source, p->detail, p->outcome);
}

void qt_provenance_free(QtProvenance *p)
{
    if (p == NULL)
        return;
    g_free(p->detail);
    g_free(p->outcome);
    g_free(p);
}

/* the names are part of the cache document and of the JSON the CLI prints */
static const char *const source_names[] = {
    [QT_SOURCE_QMP] = "qmp",
    [QT_SOURCE_TRIAL] = "trial",
    [QT_SOURCE_SPEC] = "spec",
};

QT_DEFINE_ENUM_NAMES(QtSource, qt_source, source_names)
