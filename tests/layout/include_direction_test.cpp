// The folders mirror the link graph: every #include of a loopsep source or
// header points down the layers (README "Layout"), never up or sideways
// between models/ and catalog/. The rule is checked on the real tree, and the
// checker itself on a planted tree, so it is known to fail when it should.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace {

// Which folders each layer may include from (its own folder always).
const std::map<std::string, std::set<std::string>>& allowed_deps() {
    static const std::map<std::string, std::set<std::string>> deps = {
        {"core", {}},
        {"beat", {"core"}},
        {"loops", {"core"}},
        {"catalog", {"core", "loops"}},  // tempo of added loops, acid/smpl export
        {"models", {"core", "loops"}},   // the trainer's data preparation stretches segments
        {"engine", {"core", "beat", "loops", "catalog", "models"}},
        {"tools", {"core", "beat", "loops", "catalog", "models", "engine"}},
    };
    return deps;
}

struct Violation {
    std::string file;
    int line;
    std::string text;
};

// The layer a path under `root` belongs to ("" for tests/, bench/ and the rest).
std::string layer_of(const fs::path& root, const fs::path& file) {
    const auto rel = fs::relative(file, root);
    const std::string top = rel.begin()->string();
    return allowed_deps().count(top) ? top : "";
}

// Every include violation in the layered folders under `root`.
std::vector<Violation> check_tree(const fs::path& root) {
    // Which layer owns each public header "loopsep/<name>".
    std::map<std::string, std::string> public_owner;
    std::vector<fs::path> sources;
    for (const auto& [layer, deps] : allowed_deps()) {
        (void)deps;
        if (!fs::is_directory(root / layer)) continue;
        for (const auto& e : fs::recursive_directory_iterator(root / layer)) {
            if (!e.is_regular_file()) continue;
            const auto ext = e.path().extension().string();
            if (ext != ".h" && ext != ".cpp" && ext != ".hpp" && ext != ".cc") continue;
            sources.push_back(e.path());
            if (e.path().parent_path().filename() == "loopsep" &&
                e.path().parent_path().parent_path().filename() == "include")
                public_owner["loopsep/" + e.path().filename().string()] = layer;
        }
    }
    static const std::regex include_re(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
    std::vector<Violation> out;
    for (const auto& file : sources) {
        const std::string layer = layer_of(root, file);
        const auto& deps = allowed_deps().at(layer);
        std::ifstream in(file);
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {
            ++n;
            std::smatch m;
            if (!std::regex_search(line, m, include_re)) continue;
            const std::string target = m[1];
            std::string owner;
            if (auto it = public_owner.find(target); it != public_owner.end()) {
                owner = it->second;
            } else if (target.rfind("loopsep/", 0) == 0) {
                owner = "?";  // a loopsep header nobody owns: a stale or misplaced include
            } else {
                // A private header: it must be found inside the including layer.
                const fs::path local = file.parent_path() / target;
                if (fs::exists(local)) owner = layer_of(root, fs::weakly_canonical(local));
                else continue;  // a system or generated header
            }
            if (owner != layer && !deps.count(owner))
                out.push_back({fs::relative(file, root).string(), n, line});
        }
    }
    return out;
}

std::string describe(const std::vector<Violation>& v) {
    std::string s;
    for (const auto& x : v) s += x.file + ":" + std::to_string(x.line) + ": wrong-way include: " + x.text + "\n";
    return s;
}

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

}  // namespace

TEST(Layout, EveryIncludePointsDownTheLayers) {
    const auto violations = check_tree(LOOPSEP_SOURCE_DIR);
    EXPECT_TRUE(violations.empty()) << describe(violations);
}

TEST(Layout, TheRealTreeHasEveryLayerFolder) {
    // The checker silently skips missing folders; the real tree must have them all.
    for (const auto& [layer, deps] : allowed_deps()) {
        (void)deps;
        EXPECT_TRUE(fs::is_directory(fs::path(LOOPSEP_SOURCE_DIR) / layer)) << layer;
    }
}

// A planted tree: the checker names each wrong-way include by file and line,
// and accepts the right-way ones.
TEST(Layout, TheCheckerNamesWrongWayIncludes) {
    const fs::path root = fs::temp_directory_path() / ("loopsep_layout_" + std::to_string(::getpid()));
    fs::remove_all(root);
    write(root / "core/include/loopsep/audio.h", "#pragma once\n");
    write(root / "core/src/audio.cpp", "#include \"loopsep/audio.h\"\n#include <vector>\n");
    write(root / "beat/include/loopsep/beat.h", "#pragma once\n#include \"loopsep/audio.h\"\n");
    write(root / "catalog/include/loopsep/catalog.h", "#pragma once\n");
    write(root / "models/include/loopsep/model.h", "#pragma once\n");
    write(root / "models/src/net.h", "#pragma once\n");
    write(root / "models/src/net.cpp", "#include \"net.h\"\n#include \"loopsep/model.h\"\n");
    write(root / "engine/include/loopsep/engine.h", "#pragma once\n#include \"loopsep/beat.h\"\n");
    write(root / "tools/cli/main.cpp", "#include \"loopsep/engine.h\"\n");
    EXPECT_TRUE(check_tree(root).empty()) << describe(check_tree(root));

    // Up: core → engine; sideways: models ↔ catalog; a stage → the CLI.
    write(root / "core/src/stft.cpp", "// x\n#include \"loopsep/engine.h\"\n");
    write(root / "models/src/prepare.cpp", "#include \"loopsep/catalog.h\"\n");
    write(root / "catalog/src/catalog.cpp", "#include <loopsep/model.h>\n");
    write(root / "beat/src/beat.cpp", "#include \"../../tools/cli/main.cpp\"\n");
    const auto v = check_tree(root);
    const std::string text = describe(v);
    ASSERT_EQ(v.size(), 4u) << text;
    EXPECT_NE(text.find("core/src/stft.cpp:2:"), std::string::npos) << text;
    EXPECT_NE(text.find("models/src/prepare.cpp:1:"), std::string::npos) << text;
    EXPECT_NE(text.find("catalog/src/catalog.cpp:1:"), std::string::npos) << text;
    EXPECT_NE(text.find("beat/src/beat.cpp:1:"), std::string::npos) << text;
    fs::remove_all(root);
}
