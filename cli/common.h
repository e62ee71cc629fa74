// The shared pieces of the `litevfs` CLI, one header per concern; this umbrella includes
// them all for the subcommand files (and the other branches' new ones) that include it.
#pragma once

#include "duration_flag.h"
#include "errors.h"
#include "global_flags.h"
#include "hexdump.h"
#include "ltx_json.h"
#include "page_fetcher.h"
#include "progress.h"
#include "remote_state.h"
#include "sqlite_file.h"
#include "table.h"
#include "temp_file.h"
#include "terminal.h"
#include "text_format.h"
