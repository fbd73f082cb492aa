// The tool and engine registries, for the files that include them under this older name (cli/,
// scenarios/, verify/, tests/); new code includes tool_registry.hpp or engine_registry.hpp.
#pragma once

#include "engines/engine_registry.hpp"
#include "engines/tool_registry.hpp"
