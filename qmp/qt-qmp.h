/* the qmp library: QMP client, typed commands, QEMU probe launcher */
#pragma once

#include "qt-json.h"
#include "qt-qmp-error.h"
#include "qt-qmp-client.h"
#include "qt-qmp-commands.h"
#include "qt-qemu-instance.h"
#include "qt-sync.h"
#include "qt-util.h"
