// The native OS model, NativeOs: the machine's demand-paging kernel. It is one instance of
// the generalised kernel in page_table_os.h (which documents it); this header stays for the
// code that names the native model.
#pragma once

#include "models/os/page_table_os.h"
