// Internal: the state behind a Catalog handle, shared by the catalog_*.cpp files.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "loopsep/catalog.h"
#include "sqlite_util.h"

namespace loopsep {

// "LPSP" (PRAGMA application_id): marks a SQLite file as ours, so another application's
// database is never migrated into, or merged as, a catalog by mistake.
constexpr std::int32_t kCatalogApplicationId = 0x4c505350;

struct Catalog::Impl {
    sqlite3* db = nullptr;
    std::string path;
    bool read_only = false;   // Catalog::open_read_only
    ~Impl();
};

}  // namespace loopsep
