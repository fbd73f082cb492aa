// era_invalidate, era_dump and era_check as scenario steps (see era_tools.cpp).
#pragma once

#include "engines/era/era.hpp"
