/* QtProvenance: where a fact of the model came from, so that qtopoctl can
 * explain every decision.  There are exactly three sources. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

typedef enum {
    QT_SOURCE_QMP,   /* a QMP query of the binary or of a machine instance */
    QT_SOURCE_TRIAL, /* an experiment: QEMU accepted or rejected something */
    QT_SOURCE_SPEC,  /* a PCI/PCIe specification rule, keyed by role */
} QtSource;

typedef struct {
    QtSource source;
    /* what was asked or tried: "qom-get pcie.0 hotplug-handler",
     * "-device pxb,bus=pcie.0,id=qtopo-t3 on <machine>" */
    char *detail;
    /* "accepted", a value, or QEMU's own error text */
    char *outcome;
} QtProvenance;

QtProvenance *qt_provenance_new(QtSource source, const char *detail, const char *outcome);
QtProvenance *qt_provenance_copy(const QtProvenance *p);
void qt_provenance_free(QtProvenance *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtProvenance, qt_provenance_free)

const char *qt_source_to_string(QtSource source);
gboolean qt_source_from_string(const char *s, QtSource *out);

G_END_DECLS
