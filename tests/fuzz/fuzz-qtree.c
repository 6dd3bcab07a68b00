/* fuzz: the "info qtree" parser (topology/qt-qtree.c) on any text, then
 * every lookup on what it built */
#include "qt-fuzz.h"
#include "qt-qtree.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    qt_fuzz_init(NULL);
    return 0;
}

static void visit_bus(QtQtreeBus *bus, gpointer user_data)
{
    QtQtreeBus *root = user_data;

    g_assert(bus->name != NULL);
    g_assert(qt_qtree_find_bus(root, bus->name) != NULL);
    for (guint i = 0; i < bus->devices->len; i++) {
        QtQtreeDev *dev = bus->devices->pdata[i];
        int slot = -1, function = -1;

        g_assert(dev->type != NULL && dev->id != NULL && dev->parent == bus);
        if (qt_qtree_dev_get_addr(dev, &slot, &function))
            g_assert(slot >= 0 && function >= 0);
        (void)qt_qtree_dev_get(dev, "multifunction");
        if (*dev->id)
            g_assert(qt_qtree_find_dev(root, dev->id, NULL) != NULL);
        for (guint j = 0; j < dev->buses->len; j++)
            g_assert(((QtQtreeBus *)dev->buses->pdata[j])->parent == dev);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = qt_fuzz_strndup(data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(QtQtreeBus) root = qt_qtree_parse(text, &error);

    /* one of a tree or an error, never both or neither */
    g_assert((root == NULL) != (error == NULL));
    if (root == NULL)
        g_debug("refused: %s", error->message);
    if (root != NULL) {
        g_assert(root->parent == NULL);
        qt_qtree_foreach_bus(root, visit_bus, root);
    }
    return 0;
}
