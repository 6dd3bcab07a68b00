/* the few libxml2 reads libvirt/ makes of a domain XML, shared by the
 * vocabulary and the domain reader */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

/* is @n an element named @name? */
gboolean qt_xml_is_element(xmlNodePtr n, const char *name);
/* @parent's first child element named @name, or NULL (also for a NULL
 * @parent) */
xmlNodePtr qt_xml_child(xmlNodePtr parent, const char *name);
/* an attribute's value (g_free it), or NULL (also for a NULL @n) */
char *qt_xml_attr(xmlNodePtr n, const char *name);

G_END_DECLS
