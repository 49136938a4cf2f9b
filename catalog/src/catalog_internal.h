// Internal: the state behind a Catalog handle, shared by the catalog_*.cpp files.
#pragma once

#include <sqlite3.h>

#include <string>

#include "loopsep/catalog.h"
#include "sqlite_util.h"

namespace loopsep {

struct Catalog::Impl {
    sqlite3* db = nullptr;
    std::string path;
    ~Impl();
};

}  // namespace loopsep
